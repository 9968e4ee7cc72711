//! The `keys.parquet` file: row groups encoded by the workers, appended
//! as they arrive; the `parquet` crate writes the schema and the footer.

use std::fs::File;
use std::io::BufWriter;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::column::writer::ColumnCloseResult;
use parquet::file::metadata::ColumnChunkMetaData;
use parquet::file::writer::SerializedFileWriter;
use parquet::schema::types::ColumnDescPtr;

use super::column::EncodedRowGroup;
use super::encoder::keys_schema;
use crate::error::{Error, Result};

/// The `keys.parquet` file: row groups encoded by the workers
/// ([`KeysEncoder`](super::encoder::KeysEncoder)) are appended in the order they arrive; the `parquet`
/// crate writes the schema and the footer.
pub struct KeysFileWriter {
    path: PathBuf,
    writer: SerializedFileWriter<BufWriter<File>>,
    columns: Vec<ColumnDescPtr>,
    rows: u64,
}

impl KeysFileWriter {
    /// Creates (truncates) `path`.
    pub fn create(path: &Path) -> Result<KeysFileWriter> {
        let file = File::create(path).map_err(|e| Error::io(path, e))?;
        // Row groups arrive as whole column chunks: write them in large
        // pieces rather than the writer's 8 KiB ones (a tenth of the system
        // time of a run went to those writes).
        let file = BufWriter::with_capacity(1 << 20, file);
        let (writer, _) = ArrowWriter::try_new(file, keys_schema(), None)
            .and_then(|w| w.into_serialized_writer())
            .map_err(|e| Error::parquet(path, e))?;
        let columns = writer.schema_descr().columns().to_vec();
        Ok(KeysFileWriter {
            path: path.to_path_buf(),
            writer,
            columns,
            rows: 0,
        })
    }

    /// The leaf columns of the file's schema.
    pub fn columns(&self) -> &[ColumnDescPtr] {
        &self.columns
    }

    /// Appends an encoded row group; returns its column chunks' buffers,
    /// written and free to be filled again ([`PageBuffers`](super::buffers::PageBuffers)).
    pub fn append(&mut self, group: EncodedRowGroup) -> Result<Vec<Vec<u8>>> {
        let err = |e| Error::parquet(&self.path, e);
        let mut rg = self.writer.next_row_group().map_err(err)?;
        let mut spent = Vec::with_capacity(group.columns.len());
        for (col, descr) in group.columns.into_iter().zip(&self.columns) {
            let (data, dictionary, first_data) = match col.dictionary.len() {
                0 => (Bytes::from(col.pages), None, 0),
                n => {
                    let mut data = col.dictionary;
                    data.extend_from_slice(&col.pages);
                    (Bytes::from(data), Some(0), n as i64)
                }
            };
            let size = data.len() as i64;
            let mut meta = ColumnChunkMetaData::builder(Arc::clone(descr))
                .set_compression(col.compression)
                .set_encodings(col.encodings)
                .set_num_values(col.values as i64)
                .set_total_compressed_size(size)
                .set_total_uncompressed_size(col.uncompressed as i64)
                .set_data_page_offset(first_data)
                .set_dictionary_page_offset(dictionary);
            if let Some(s) = col.statistics {
                meta = meta.set_statistics(s);
            }
            let close = ColumnCloseResult {
                bytes_written: size as u64,
                rows_written: group.rows,
                metadata: meta.build().map_err(err)?,
                bloom_filter: None,
                column_index: None,
                offset_index: None,
            };
            rg.append_column(&data, close).map_err(err)?;
            // The only reference now: no copy.
            spent.push(Vec::from(data));
        }
        rg.close().map_err(err)?;
        self.rows += group.rows;
        Ok(spent)
    }

    /// Writes the footer; returns the rows written.
    pub fn close(self) -> Result<u64> {
        self.writer
            .close()
            .map_err(|e| Error::parquet(&self.path, e))?;
        Ok(self.rows)
    }
}
