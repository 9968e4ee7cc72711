//! The retention of backups: a backup whose files were last written more
//! than `backup_retention_days` ago is deleted (at the service's start and
//! every hour), leaving `expired.json` to say when and why, so that a
//! restore ticket of it fails with a clear message.

use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use serde_json::json;

use super::{dir, EXPIRED_FILE, RDB_FILE, TTL_FILE};
use crate::config::Config;
use crate::error::{Error, Result};

/// How often the service looks for expired backups.
pub const SWEEP_EVERY: Duration = Duration::from_secs(3600);

fn newest_write(dir: &Path) -> Option<SystemTime> {
    [RDB_FILE, TTL_FILE]
        .iter()
        .filter_map(|f| std::fs::metadata(dir.join(f)).ok()?.modified().ok())
        .max()
}

/// Deletes the backups older than the configured retention (none when it
/// is 0). Returns the ticket ids whose backups were deleted.
pub fn sweep(config: &Config) -> Result<Vec<i64>> {
    let days = config.backup_retention_days;
    if days == 0 {
        return Ok(Vec::new());
    }
    let root = config
        .reports_dir
        .clone()
        .unwrap_or_else(|| config.data_dir.join("tickets"));
    let Ok(list) = std::fs::read_dir(&root) else {
        return Ok(Vec::new());
    };
    let keep = Duration::from_secs(days * 86_400);
    let now = SystemTime::now();
    let mut deleted = Vec::new();
    for e in list.flatten() {
        let Some(id) = e.file_name().to_str().and_then(|s| s.parse::<i64>().ok()) else {
            continue;
        };
        let d = dir(config, id);
        let Some(at) = newest_write(&d) else {
            continue;
        };
        if now.duration_since(at).unwrap_or_default() <= keep {
            continue;
        }
        for f in [RDB_FILE, TTL_FILE] {
            match std::fs::remove_file(d.join(f)) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => {
                    return Err(Error::internal(format!(
                        "deleting the expired backup {}: {e}",
                        d.join(f).display()
                    )))
                }
            }
        }
        let note = json!({
            "deleted_at": crate::time::rfc3339(crate::store::now_ms()),
            "backup_retention_days": days,
        });
        std::fs::write(d.join(EXPIRED_FILE), format!("{note}\n"))?;
        deleted.push(id);
    }
    Ok(deleted)
}

/// The backup directory of ticket `id` if its backup is still there; a
/// clear error if the retention deleted it or there never was one.
pub fn present(config: &Config, id: i64) -> Result<PathBuf> {
    let d = dir(config, id);
    if d.join(RDB_FILE).is_file() || d.join(TTL_FILE).is_file() {
        return Ok(d);
    }
    if let Ok(text) = std::fs::read_to_string(d.join(EXPIRED_FILE)) {
        let v: serde_json::Value = serde_json::from_str(&text).unwrap_or_default();
        return Err(Error::conflict(format!(
            "the backup of ticket {id} was deleted on {} (backup_retention_days = {}): nothing to restore",
            v["deleted_at"].as_str().unwrap_or("?"),
            v["backup_retention_days"]
        )));
    }
    Err(Error::conflict(format!(
        "ticket {id} has no backup (only a cleanup in delete or expire mode that changed keys writes one)"
    )))
}

/// Sweeps at once, then every [`SWEEP_EVERY`], logging what it deleted.
pub async fn sweep_periodically(config: Config) {
    loop {
        let c = config.clone();
        match tokio::task::spawn_blocking(move || sweep(&c)).await {
            Ok(Ok(ids)) if !ids.is_empty() => crate::state::log(&format!(
                "deleted the backups of tickets {ids:?} (older than backup_retention_days = {})",
                config.backup_retention_days
            )),
            Ok(Ok(_)) => {}
            Ok(Err(e)) => crate::state::log(&format!("backup retention: {e}")),
            Err(e) => crate::state::log(&format!("backup retention: {e}")),
        }
        tokio::time::sleep(SWEEP_EVERY).await;
    }
}
