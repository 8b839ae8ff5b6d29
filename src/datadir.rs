//! The data directory on disk: the embedded SQLite database and the server key live there,
//! and both must be readable by the gateway's own user only (whoever reads the database can
//! read the token-signing key when no server key protects it).

use std::fs::{File, OpenOptions};
use std::io;
use std::os::unix::fs::{DirBuilderExt, OpenOptionsExt, PermissionsExt};
use std::path::Path;

/// Owner only: read, write and enter.
const PRIVATE_DIR: u32 = 0o700;
/// Owner only: read and write.
const PRIVATE_FILE: u32 = 0o600;

/// Creates the directory (and its parents) as 0700 when it does not exist. An existing
/// directory is left as it is, with a warning when other users may enter it.
pub fn prepare(dir: &Path) -> io::Result<()> {
    if dir.is_dir() {
        if std::fs::metadata(dir)?.permissions().mode() & 0o077 != 0 {
            tracing::warn!(
                path = %dir.display(),
                "the data directory is open to other users: chmod 700 it"
            );
        }
        return Ok(());
    }
    std::fs::DirBuilder::new()
        .recursive(true)
        .mode(PRIVATE_DIR)
        .create(dir)
}

/// Creates a new file readable by the owner only; fails when it exists.
pub fn create_private(path: &Path) -> io::Result<File> {
    OpenOptions::new()
        .write(true)
        .create_new(true)
        .mode(PRIVATE_FILE)
        .open(path)
}

/// Makes the SQLite database file and its companions (`-wal`, `-shm`, `-journal`) readable by
/// the owner only, creating the database file first when it does not exist: SQLite gives the
/// files it creates next to a database the database file's own permissions.
pub fn restrict_sqlite_files(db: &Path) -> io::Result<()> {
    match create_private(db) {
        Ok(_) => {}
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(e),
    }
    for suffix in ["", "-wal", "-shm", "-journal"] {
        let mut name = db.as_os_str().to_owned();
        name.push(suffix);
        let path = Path::new(&name);
        if path.exists() {
            let mode = std::fs::metadata(path)?.permissions().mode();
            if mode & 0o077 != 0 {
                std::fs::set_permissions(path, std::fs::Permissions::from_mode(PRIVATE_FILE))?;
            }
        }
    }
    Ok(())
}

/// Whether a file's group or others may read it.
pub fn readable_by_others(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.permissions().mode() & 0o044 != 0)
}
