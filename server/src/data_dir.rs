//! The data directory's private files: the SQLite database (`granary.db` and its
//! `-wal` and `-shm`), the session key (`session.key`), the Hub's LFS signing
//! key (`hf-signing.key`) and any key added later. The directory is kept `0700`
//! and those files `0600`, so other local users can read neither the database
//! nor a key that signs sessions.
//!
//! Every secret file is written by [`create_secret_file`] and by nothing else.

use std::io::Write as _;
use std::path::Path;

/// The files of a data directory that hold secrets (the database is made private
/// by `db::Db::connect`, where its path is known).
pub const SECRET_FILES: [&str; 3] = ["session.key", "hf-signing.key", "signing-key.pem"];

/// Creates `dir` (and its parents) if missing, and makes it `0700`: an existing data
/// directory readable by others is tightened, with a warning.
pub fn create_private_dir(dir: &Path) -> std::io::Result<()> {
    let existed = dir.is_dir();
    std::fs::create_dir_all(dir)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir)?.permissions().mode() & 0o777;
        if mode != 0o700 {
            match std::fs::set_permissions(dir, std::fs::Permissions::from_mode(0o700)) {
                Ok(()) if existed && mode & 0o077 != 0 => {
                    tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "the data directory was open to other users: now 0700");
                }
                Ok(()) => {}
                // Someone else's directory that we may write in: say so, and go on (the
                // files that matter are 0600 anyway).
                Err(e) if e.kind() == std::io::ErrorKind::PermissionDenied => {
                    tracing::warn!(dir = %dir.display(), mode = format!("{mode:o}"), "cannot make the data directory 0700: it belongs to another user");
                }
                Err(e) => return Err(e),
            }
        }
    }
    Ok(())
}

/// Makes an existing file `0600` if others could read it (files written by older
/// versions); a missing file is fine.
pub fn restrict(path: &Path) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = match std::fs::metadata(path) {
            Ok(m) => m.permissions().mode() & 0o777,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(e),
        };
        if mode & 0o077 != 0 {
            tracing::warn!(file = %path.display(), mode = format!("{mode:o}"), "a private file was open to other users: now 0600");
            std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600))?;
        }
    }
    #[cfg(not(unix))]
    let _ = path;
    Ok(())
}

/// Creates `path` holding `contents`, readable by this user alone (`0600`), only if
/// it does not exist yet (`AlreadyExists` otherwise, as `create_new`). The file
/// appears whole or not at all: it is written under a temporary name, then linked
/// into place, so a concurrent reader never sees it half written.
pub fn create_secret_file(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let name = path
        .file_name()
        .and_then(|n| n.to_str())
        .unwrap_or("secret");
    let temp = path.with_file_name(format!(".{name}.{}.tmp", uuid::Uuid::new_v4().simple()));
    write_new(&temp, contents)?;
    let linked = std::fs::hard_link(&temp, path);
    let _ = std::fs::remove_file(&temp);
    match linked {
        Ok(()) => Ok(()),
        // A file system without hard links: create it in place.
        Err(e) if e.kind() == std::io::ErrorKind::Unsupported => write_new(path, contents),
        Err(e) => Err(e),
    }
}

/// Writes a new `0600` file (`create_new`) and syncs it.
fn write_new(path: &Path, contents: &[u8]) -> std::io::Result<()> {
    let mut opts = std::fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    std::os::unix::fs::OpenOptionsExt::mode(&mut opts, 0o600);
    let mut file = opts.open(path)?;
    file.write_all(contents)?;
    file.sync_all()
}

#[cfg(all(test, unix))]
mod tests {
    use super::*;
    use std::os::unix::fs::PermissionsExt;

    fn mode(path: &Path) -> u32 {
        std::fs::metadata(path).unwrap().permissions().mode() & 0o777
    }

    #[test]
    fn secret_files_are_private_and_never_replaced() {
        let dir = tempfile::tempdir().unwrap();
        let data = dir.path().join("data");
        create_private_dir(&data).unwrap();
        assert_eq!(mode(&data), 0o700);
        let key = data.join("a.key");
        create_secret_file(&key, b"secret").unwrap();
        assert_eq!(mode(&key), 0o600);
        let again = create_secret_file(&key, b"other").unwrap_err();
        assert_eq!(again.kind(), std::io::ErrorKind::AlreadyExists);
        assert_eq!(std::fs::read(&key).unwrap(), b"secret");
        let left: Vec<_> = std::fs::read_dir(&data)
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(left.len(), 1, "no temporary file is left: {left:?}");
        // Older files and directories are tightened.
        std::fs::set_permissions(&key, std::fs::Permissions::from_mode(0o644)).unwrap();
        std::fs::set_permissions(&data, std::fs::Permissions::from_mode(0o755)).unwrap();
        restrict(&key).unwrap();
        create_private_dir(&data).unwrap();
        assert_eq!((mode(&key), mode(&data)), (0o600, 0o700));
        restrict(&data.join("missing")).unwrap();
    }
}
