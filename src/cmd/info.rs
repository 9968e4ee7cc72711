//! `rdbscope info`: what a file holds, read in one parallel pass that
//! decodes every value (so a corrupt container is found here too).

use std::collections::BTreeMap;
use std::time::Instant;

use rdb_parser::{ChecksumStatus, Kind, Magic, Rdb, Record, Scratch, DEFAULT_CHUNK_BYTES};

use crate::args::InfoArgs;
use crate::input::{with_key, Input};
use crate::json;

/// Totals gathered by one worker; merged at the end.
#[derive(Default)]
struct Tally {
    aux: Vec<(Vec<u8>, Vec<u8>)>,
    dbs: BTreeMap<u64, DbTally>,
    types: BTreeMap<(Kind, &'static str), (u64, u64)>,
    modules: BTreeMap<(String, u16), u64>,
    module_aux: BTreeMap<String, u64>,
    functions: Vec<Vec<u8>>,
    slot_info_records: u64,
    slot_imports: u64,
    /// Keys preceded by Redis Enterprise's RAM_LRU (107) / SLOT_NUM (121).
    ent_ram_lru: u64,
    ent_slot_num: u64,
    keys: u64,
    elements: u64,
    expires: u64,
    eof: Option<(u64, Option<u64>, u64)>,
}

#[derive(Default, Clone, Copy)]
struct DbTally {
    keys: u64,
    expires: u64,
}

impl Tally {
    fn merge(mut self, o: Tally) -> Tally {
        self.aux.extend(o.aux);
        for (db, t) in o.dbs {
            let d = self.dbs.entry(db).or_default();
            d.keys += t.keys;
            d.expires += t.expires;
        }
        for (k, (n, b)) in o.types {
            let e = self.types.entry(k).or_default();
            e.0 += n;
            e.1 += b;
        }
        for (k, n) in o.modules {
            *self.modules.entry(k).or_default() += n;
        }
        for (k, n) in o.module_aux {
            *self.module_aux.entry(k).or_default() += n;
        }
        self.functions.extend(o.functions);
        self.slot_info_records += o.slot_info_records;
        self.slot_imports += o.slot_imports;
        self.ent_ram_lru += o.ent_ram_lru;
        self.ent_slot_num += o.ent_slot_num;
        self.keys += o.keys;
        self.elements += o.elements;
        self.expires += o.expires;
        self.eof = self.eof.or(o.eof);
        self
    }
}

/// Library name from a function library's `#!engine name=lib` first line.
fn library_name(code: &[u8]) -> Vec<u8> {
    let first = code.split(|&b| b == b'\n').next().unwrap_or_default();
    first
        .split(|&b| b == b' ')
        .find_map(|w| w.strip_prefix(b"name="))
        .map(<[u8]>::to_vec)
        .unwrap_or_else(|| b"?".to_vec())
}

pub(crate) fn run(a: InfoArgs) -> anyhow::Result<()> {
    crate::threads::init_threads(a.threads);
    let started = Instant::now();
    let input = Input::open(&a.file)?;
    let rdb = input.rdb()?;
    let chunks = rdb
        .chunks(DEFAULT_CHUNK_BYTES)
        .map_err(|e| input.error(e))?;
    let progress = crate::progress::Progress::start("info", rdb.data().len() as u64);
    let tally = rdb
        .par_fold_with_progress(
            &chunks,
            progress.counter(),
            || (Tally::default(), Scratch::new(), Vec::new()),
            |(t, scratch, buf), r| {
                match r {
                    Record::Aux { name, value } => {
                        let n = name.bytes(buf)?.to_vec();
                        let v = value.bytes(buf)?.to_vec();
                        t.aux.push((n, v));
                    }
                    Record::ResizeDb { .. } => {}
                    Record::ModuleAux { module, .. } => {
                        *t.module_aux.entry(module.name()).or_default() += 1
                    }
                    Record::Function { code, name, .. } => {
                        let lib = match name {
                            Some(n) => n.bytes(buf)?.to_vec(),
                            None => library_name(code.bytes(buf)?),
                        };
                        t.functions.push(lib);
                    }
                    Record::SlotInfo { .. } => t.slot_info_records += 1,
                    Record::SlotImport { .. } => t.slot_imports += 1,
                    Record::Eof {
                        offset,
                        stored_checksum,
                        trailing_bytes,
                    } => t.eof = Some((offset, stored_checksum, trailing_bytes)),
                    Record::SelectDb(_) => {}
                    Record::Entry(e) => {
                        let db = t.dbs.entry(e.db).or_default();
                        db.keys += 1;
                        if e.expire_at_ms.is_some() {
                            db.expires += 1;
                            t.expires += 1;
                        }
                        t.keys += 1;
                        t.ent_ram_lru += u64::from(e.enterprise.ram_lru.is_some());
                        t.ent_slot_num += u64::from(e.enterprise.slot_num.is_some());
                        let enc = e.value_type().file_encoding();
                        let slot = t.types.entry((e.kind(), enc)).or_default();
                        slot.0 += 1;
                        slot.1 += e.record_len();
                        match e.kind() {
                            Kind::Module => {
                                let id = e.value.module_id().map_err(|x| with_key(x, &e))?;
                                *t.modules
                                    .entry((id.name(), id.encoding_version()))
                                    .or_default() += 1;
                            }
                            Kind::Stream => {
                                let meta = e
                                    .value
                                    .walk_stream(scratch, &mut ())
                                    .map_err(|x| with_key(x, &e))?;
                                t.elements += meta.length;
                            }
                            Kind::Array => {
                                let h = e
                                    .value
                                    .walk_array(scratch, |_, _| {})
                                    .map_err(|x| with_key(x, &e))?;
                                t.elements += h.count;
                            }
                            Kind::String => {
                                e.value
                                    .as_string()
                                    .and_then(|s| s.bytes(buf).map(|_| ()))
                                    .map_err(|x| with_key(x, &e))?;
                                t.elements += 1;
                            }
                            _ => {
                                let mut n = 0u64;
                                e.value
                                    .for_each_element(scratch, |_| n += 1)
                                    .map_err(|x| with_key(x, &e))?;
                                t.elements += n;
                            }
                        }
                    }
                }
                Ok(())
            },
            |(a, s, b), (o, _, _)| (a.merge(o), s, b),
        )
        .map_err(|e| input.error(e))?
        .0;
    drop(progress);
    let checksum = match (&tally.eof, a.no_checksum) {
        (None, _) => None,
        (Some(_), true) => Some(ChecksumStatus::Skipped),
        (Some((off, stored, _)), false) => Some(rdb.checksum_status(*off, *stored)),
    };
    let elapsed = started.elapsed();
    if a.json {
        print_json(&rdb, &input, &tally, checksum, elapsed.as_secs_f64());
    } else {
        print_text(&rdb, &input, &tally, checksum, elapsed.as_secs_f64());
    }
    if let Some(ChecksumStatus::Mismatch { stored, computed }) = checksum {
        anyhow::bail!(
            "{}: CRC64 mismatch: stored 0x{stored:016x}, computed 0x{computed:016x}",
            input.path.display()
        );
    }
    Ok(())
}

fn magic_name(m: Magic) -> &'static str {
    match m {
        Magic::Redis => "REDIS",
        Magic::Valkey => "VALKEY",
    }
}

fn checksum_text(c: Option<ChecksumStatus>) -> String {
    match c {
        None => "no EOF record".into(),
        Some(ChecksumStatus::Verified(v)) => format!("verified (0x{v:016x})"),
        Some(ChecksumStatus::Disabled) => "disabled (stored as 0)".into(),
        Some(ChecksumStatus::Absent) => "absent (RDB version before 5)".into(),
        Some(ChecksumStatus::Skipped) => "not checked (--no-checksum)".into(),
        Some(ChecksumStatus::Mismatch { stored, computed }) => {
            format!("MISMATCH: stored 0x{stored:016x}, computed 0x{computed:016x}")
        }
    }
}

fn checksum_word(c: Option<ChecksumStatus>) -> &'static str {
    match c {
        None => "missing",
        Some(ChecksumStatus::Verified(_)) => "verified",
        Some(ChecksumStatus::Disabled) => "disabled",
        Some(ChecksumStatus::Absent) => "absent",
        Some(ChecksumStatus::Skipped) => "skipped",
        Some(ChecksumStatus::Mismatch { .. }) => "mismatch",
    }
}

fn print_text(rdb: &Rdb<'_>, input: &Input, t: &Tally, c: Option<ChecksumStatus>, secs: f64) {
    let size = rdb.data().len();
    println!("file        {}", input.path.display());
    println!("size        {} bytes", size);
    println!(
        "format      {} version {}{}",
        magic_name(rdb.magic()),
        rdb.version(),
        if rdb.is_newer_than_known() {
            " (newer than this rdbscope knows: read as far as understood)"
        } else {
            ""
        }
    );
    println!("checksum    {}", checksum_text(c));
    if let Some((_, _, trailing)) = t.eof {
        if trailing > 0 {
            println!("trailing    {trailing} bytes after the checksum");
        }
    }
    if !t.aux.is_empty() {
        println!("aux fields");
        for (k, v) in &t.aux {
            let v = String::from_utf8_lossy(v);
            let v: String = if v.len() > 80 {
                format!("{}… ({} bytes)", &v[..v.floor_char_boundary(77)], v.len())
            } else {
                v.into_owned()
            };
            println!(
                "  {:<20} {}",
                String::from_utf8_lossy(k),
                v.replace('\n', "\\n")
            );
        }
    }
    println!(
        "keys        {} ({} with an expire time), {} elements",
        t.keys, t.expires, t.elements
    );
    println!("databases");
    for (db, d) in &t.dbs {
        println!(
            "  db{:<4} {:>12} keys {:>12} expires",
            db, d.keys, d.expires
        );
    }
    println!("types");
    for ((kind, enc), (n, bytes)) in &t.types {
        println!(
            "  {:<8} {:<12} {:>12} keys {:>14} bytes",
            kind.name(),
            enc,
            n,
            bytes
        );
    }
    if !t.modules.is_empty() || !t.module_aux.is_empty() {
        println!("modules");
        for ((name, ver), n) in &t.modules {
            println!("  {name} (encoding version {ver}): {n} values");
        }
        for (name, n) in &t.module_aux {
            println!("  {name}: {n} aux records");
        }
    }
    if !t.functions.is_empty() {
        println!("functions");
        for f in &t.functions {
            println!("  library {}", String::from_utf8_lossy(f));
        }
    }
    if t.slot_info_records > 0 {
        println!("slot info   {} records", t.slot_info_records);
    }
    if t.slot_imports > 0 {
        println!("slot import {} records", t.slot_imports);
    }
    if t.ent_ram_lru + t.ent_slot_num > 0 {
        println!(
            "enterprise  {} keys with RAM_LRU (107), {} with SLOT_NUM (121)",
            t.ent_ram_lru, t.ent_slot_num
        );
    }
    println!(
        "time        {:.3} s ({:.1} MB/s)",
        secs,
        size as f64 / 1e6 / secs.max(1e-9)
    );
}

fn print_json(rdb: &Rdb<'_>, input: &Input, t: &Tally, c: Option<ChecksumStatus>, secs: f64) {
    let mut o = Vec::new();
    o.extend_from_slice(b"{\"file\":");
    json::push_str(&mut o, &input.path.display().to_string());
    o.extend_from_slice(format!(",\"size\":{},\"magic\":\"{}\",\"version\":{},\"newer_than_known\":{},\"checksum\":\"{}\"",
        rdb.data().len(), magic_name(rdb.magic()), rdb.version(), rdb.is_newer_than_known(), checksum_word(c)).as_bytes());
    o.extend_from_slice(b",\"aux\":{");
    for (i, (k, v)) in t.aux.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        json::push_str(&mut o, &String::from_utf8_lossy(k));
        o.push(b':');
        json::push_bytes(&mut o, v);
    }
    o.extend_from_slice(
        format!(
            "}},\"keys\":{},\"expires\":{},\"elements\":{},\"dbs\":[",
            t.keys, t.expires, t.elements
        )
        .as_bytes(),
    );
    for (i, (db, d)) in t.dbs.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(
            format!(
                "{{\"db\":{db},\"keys\":{},\"expires\":{}}}",
                d.keys, d.expires
            )
            .as_bytes(),
        );
    }
    o.extend_from_slice(b"],\"types\":[");
    for (i, ((kind, enc), (n, bytes))) in t.types.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(
            format!(
                "{{\"type\":\"{}\",\"encoding\":\"{enc}\",\"keys\":{n},\"rdb_bytes\":{bytes}}}",
                kind.name()
            )
            .as_bytes(),
        );
    }
    o.extend_from_slice(b"],\"modules\":[");
    for (i, ((name, ver), n)) in t.modules.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"module\":");
        json::push_str(&mut o, name);
        o.extend_from_slice(format!(",\"encver\":{ver},\"keys\":{n}}}").as_bytes());
    }
    o.extend_from_slice(b"],\"module_aux\":[");
    for (i, (name, n)) in t.module_aux.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        o.extend_from_slice(b"{\"module\":");
        json::push_str(&mut o, name);
        o.extend_from_slice(format!(",\"records\":{n}}}").as_bytes());
    }
    o.extend_from_slice(b"],\"functions\":[");
    for (i, f) in t.functions.iter().enumerate() {
        if i > 0 {
            o.push(b',');
        }
        json::push_bytes(&mut o, f);
    }
    o.extend_from_slice(
        format!(
            "],\"slot_info_records\":{},\"slot_import_records\":{},\"enterprise_ram_lru_keys\":{},\"enterprise_slot_num_keys\":{},\"seconds\":{secs:.6}}}",
            t.slot_info_records, t.slot_imports, t.ent_ram_lru, t.ent_slot_num
        )
        .as_bytes(),
    );
    println!("{}", String::from_utf8_lossy(&o));
}
