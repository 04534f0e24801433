//! File locks (flock) that guard caches and live labs across threads and processes.

use crate::error::{Result, io};
use std::fs::{File, OpenOptions, TryLockError};
use std::path::Path;

fn open(path: &Path) -> Result<File> {
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(io("cannot create", dir))?;
    }
    OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)
        .map_err(io("cannot open", path))
}

/// Waits for the exclusive lock on `path`; it is released when the file is dropped.
pub(crate) fn exclusive(path: &Path) -> Result<File> {
    let f = open(path)?;
    f.lock().map_err(io("cannot lock", path))?;
    Ok(f)
}

/// Takes the exclusive lock on `path` if no one holds it.
pub(crate) fn try_exclusive(path: &Path) -> Result<Option<File>> {
    let f = open(path)?;
    match f.try_lock() {
        Ok(()) => Ok(Some(f)),
        Err(TryLockError::WouldBlock) => Ok(None),
        Err(TryLockError::Error(e)) => Err(io("cannot lock", path)(e)),
    }
}
