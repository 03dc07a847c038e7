//! The data-directory lock: an exclusive advisory lock on `<data-dir>/nodebus.lock`, held for
//! the store's lifetime, so two nodebus processes never write one database.
//! Locks belong to the open file description, so a second open in the same process conflicts
//! too. The lock file is never deleted: removing it would let a third process lock a new file.

use std::fs::{File, OpenOptions, TryLockError};
use std::io::ErrorKind;
use std::path::Path;

use super::StoreError;

pub const FILE_NAME: &str = "nodebus.lock";

/// A held lock; dropping it releases the lock.
#[derive(Debug)]
pub struct DirLock {
    _file: Option<File>,
    writable: bool,
}

impl DirLock {
    /// Takes the lock of `data_dir`. In a directory the process cannot write and that holds no
    /// lock file yet, nothing can be locked; `may_skip` then allows going on without a lock
    /// (a read-only store cannot harm another writer).
    pub fn take(data_dir: &Path, may_skip: bool) -> Result<DirLock, StoreError> {
        let path = data_dir.join(FILE_NAME);
        let failed = |source| StoreError::Lock {
            path: data_dir.to_path_buf(),
            source,
        };
        let (file, writable) = match OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(&path)
        {
            Ok(file) => (file, true),
            Err(error) if is_read_only(&error) => match File::open(&path) {
                Ok(file) => (file, false),
                Err(_) if may_skip => {
                    tracing::warn!(path = %path.display(), "data directory is read-only and has no lock file; not locking it");
                    return Ok(DirLock {
                        _file: None,
                        writable: false,
                    });
                }
                Err(_) => return Err(failed(error)),
            },
            Err(error) => return Err(failed(error)),
        };
        match file.try_lock() {
            Ok(()) => Ok(DirLock {
                _file: Some(file),
                writable,
            }),
            Err(TryLockError::WouldBlock) => Err(StoreError::Locked {
                path: data_dir.to_path_buf(),
                lock: path,
            }),
            Err(TryLockError::Error(error)) => Err(failed(error)),
        }
    }
}

impl DirLock {
    /// False when the data directory (or its lock file) cannot be written: then nothing in it
    /// can be, and the store must open read-only.
    pub fn writable(&self) -> bool {
        self.writable
    }
}

/// True for the errors a read-only file system or missing write permission give.
pub fn is_read_only(error: &std::io::Error) -> bool {
    matches!(
        error.kind(),
        ErrorKind::PermissionDenied | ErrorKind::ReadOnlyFilesystem
    )
}
