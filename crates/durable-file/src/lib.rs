//! One way to replace a file: after a crash at any point it holds either its
//! old content or its new content, never a mix and never nothing.
//!
//! Everything happens relative to the directory's descriptor and no symbolic
//! link is followed in it. musterd runs as root and writes in directories a
//! less trusted user may change (Ceph's): a name that user points at another
//! file must not make root write, truncate or replace that file.

use std::ffi::OsStr;
use std::fs::File;
use std::io::{self, Write};
use std::os::fd::{AsFd, BorrowedFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::path::Path;
use std::sync::{Mutex, PoisonError};

use nix::errno::Errno;
use nix::fcntl::{open, openat, renameat, AtFlags, OFlag};
use nix::sys::stat::{fchmod, fstatat, Mode, SFlag};
use nix::unistd::{fsync, unlinkat, UnlinkatFlags};

/// What is refused where a file (or a directory holding it) is expected.
#[derive(Debug, thiserror::Error)]
#[error(
    "it is a symbolic link: muster writes only the file itself there, never what a link points to"
)]
pub struct SymlinkRefused;

/// The temporary file's name is fixed (one per target, so a crash leaves at
/// most one behind and the next write clears it), which is safe only while
/// no two writers use it at once: one agent owns each state directory, and
/// this lock orders the writes of its threads.
static WRITING: Mutex<()> = Mutex::new(());

/// A directory, opened once, to write files in.
#[derive(Debug)]
pub struct Dir {
    fd: OwnedFd,
}

impl Dir {
    /// Opens the directory `path` (a symbolic link there is refused, so that
    /// the files go where the caller looked, not where a link sends them).
    pub fn open(path: &Path) -> io::Result<Dir> {
        let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        match open(path, flags, Mode::empty()) {
            Ok(fd) => Ok(Dir { fd }),
            // O_NOFOLLOW with O_DIRECTORY says ENOTDIR for a link.
            Err(Errno::ELOOP | Errno::ENOTDIR)
                if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) =>
            {
                Err(refused())
            }
            Err(e) => Err(e.into()),
        }
    }

    /// Replaces `name` in this directory with `bytes`, with permissions
    /// `mode` from the first byte on. A symbolic link at `name` is refused
    /// and left as it is.
    pub fn write(&self, name: &OsStr, bytes: &[u8], mode: u32) -> io::Result<()> {
        let name = plain_name(name)?;
        let temp = [b".", name.as_bytes(), b".muster-tmp"].concat();
        let temp = OsStr::from_bytes(&temp);
        let _only_writer = WRITING.lock().unwrap_or_else(PoisonError::into_inner);
        if self.is_symlink(name)? {
            return Err(refused());
        }
        let mut file = self.create(temp, mode)?;
        let written = file
            .write_all(bytes)
            .and_then(|()| file.sync_all())
            .and_then(|()| renameat(&self.fd, temp, &self.fd, name).map_err(io::Error::from))
            .and_then(|()| self.sync());
        if written.is_err() {
            let _ = unlinkat(&self.fd, temp, UnlinkatFlags::NoRemoveDir);
        }
        written
    }

    /// Makes the directory's entries (a rename into it) durable.
    pub fn sync(&self) -> io::Result<()> {
        Ok(fsync(&self.fd)?)
    }

    fn is_symlink(&self, name: &OsStr) -> io::Result<bool> {
        match fstatat(&self.fd, name, AtFlags::AT_SYMLINK_NOFOLLOW) {
            Ok(st) => Ok(SFlag::from_bits_truncate(st.st_mode) & SFlag::S_IFMT == SFlag::S_IFLNK),
            Err(Errno::ENOENT) => Ok(false),
            Err(e) => Err(e.into()),
        }
    }

    /// The temporary file, new: never a file (or link) found under its name.
    fn create(&self, temp: &OsStr, mode: u32) -> io::Result<File> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let mode = Mode::from_bits_truncate(mode);
        let fd = match openat(&self.fd, temp, flags, mode) {
            // Left by a write that a crash interrupted (see WRITING): only
            // the name is removed, never what a link there points to.
            Err(Errno::EEXIST) => {
                unlinkat(&self.fd, temp, UnlinkatFlags::NoRemoveDir)?;
                openat(&self.fd, temp, flags, mode)?
            }
            fd => fd?,
        };
        // The umask may have taken bits away from `mode`.
        fchmod(&fd, mode)?;
        Ok(File::from(fd))
    }
}

impl AsFd for Dir {
    fn as_fd(&self) -> BorrowedFd<'_> {
        self.fd.as_fd()
    }
}

/// Replaces the file `path` with `bytes` ([`Dir::write`] in its directory).
pub fn write(path: &Path, bytes: &[u8], mode: u32) -> io::Result<()> {
    let (Some(dir), Some(name)) = (path.parent(), path.file_name()) else {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            "not the path of a file in a directory",
        ));
    };
    let dir = if dir.as_os_str().is_empty() {
        Path::new(".")
    } else {
        dir
    };
    Dir::open(dir)?.write(name, bytes, mode)
}

fn refused() -> io::Error {
    io::Error::new(io::ErrorKind::InvalidInput, SymlinkRefused)
}

fn plain_name(name: &OsStr) -> io::Result<&OsStr> {
    let bytes = name.as_bytes();
    if bytes.is_empty() || bytes == b"." || bytes == b".." || bytes.contains(&b'/') {
        return Err(io::Error::new(
            io::ErrorKind::InvalidInput,
            format!("{name:?} is not the name of a file in a directory"),
        ));
    }
    Ok(name)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::fs;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn mode_of(path: &Path) -> u32 {
        fs::symlink_metadata(path).unwrap().permissions().mode() & 0o7777
    }

    fn is_refusal(e: &io::Error) -> bool {
        e.get_ref()
            .is_some_and(|inner| inner.is::<SymlinkRefused>())
    }

    #[test]
    fn the_file_has_the_mode_asked_for_and_no_temporary_is_left() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.json");
        write(&path, b"one", 0o640).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"one");
        assert_eq!(mode_of(&path), 0o640);
        write(&path, b"two", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"two");
        assert_eq!(mode_of(&path), 0o600);
        assert_eq!(fs::read_dir(dir.path()).unwrap().count(), 1);
    }

    #[test]
    fn a_symlink_at_the_target_is_refused_and_what_it_points_to_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        fs::set_permissions(&victim, fs::Permissions::from_mode(0o644)).unwrap();
        let link = dir.path().join("keyring");
        symlink(&victim, &link).unwrap();
        let e = write(&link, b"secret", 0o600).unwrap_err();
        assert!(is_refusal(&e), "{e}");
        assert!(e.to_string().contains("symbolic link"), "{e}");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert_eq!(mode_of(&victim), 0o644);
        assert_eq!(fs::read_link(&link).unwrap(), victim);
    }

    #[test]
    fn a_symlinked_directory_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let real = dir.path().join("real");
        fs::create_dir(&real).unwrap();
        let link = dir.path().join("link");
        symlink(&real, &link).unwrap();
        let e = write(&link.join("f"), b"x", 0o600).unwrap_err();
        assert!(is_refusal(&e), "{e}");
        assert_eq!(fs::read_dir(&real).unwrap().count(), 0);
    }

    #[test]
    fn a_stale_temporary_does_not_break_the_next_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("cluster.json");
        let temp = dir.path().join(".cluster.json.muster-tmp");
        fs::write(&temp, b"half a file from before a crash").unwrap();
        write(&path, b"new", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"new");
        assert!(!temp.exists());

        // A link left there is removed, not followed.
        let victim = dir.path().join("victim");
        fs::write(&victim, b"precious").unwrap();
        symlink(&victim, &temp).unwrap();
        write(&path, b"newer", 0o600).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"newer");
        assert_eq!(fs::read(&victim).unwrap(), b"precious");
        assert!(fs::symlink_metadata(&temp).is_err());
    }

    #[test]
    fn the_old_content_survives_a_failed_write() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.json");
        write(&path, b"old", 0o600).unwrap();
        // Something the stale-temporary cleanup must not remove.
        let blocker = dir.path().join(".trust.json.muster-tmp");
        fs::create_dir(&blocker).unwrap();
        fs::write(blocker.join("inside"), b"").unwrap();
        write(&path, b"new", 0o600).unwrap_err();
        assert_eq!(fs::read(&path).unwrap(), b"old");
        fs::remove_dir_all(&blocker).unwrap();

        if nix::unistd::geteuid().is_root() {
            eprintln!(
                "running as root, which writes in a read-only directory: that case is skipped"
            );
            return;
        }
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o555)).unwrap();
        let e = write(&path, b"new", 0o600).unwrap_err();
        fs::set_permissions(dir.path(), fs::Permissions::from_mode(0o755)).unwrap();
        assert_eq!(e.kind(), io::ErrorKind::PermissionDenied, "{e}");
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn only_a_plain_name_is_written() {
        let dir = Dir::open(Path::new(".")).unwrap();
        for name in ["", ".", "..", "a/b"] {
            let e = dir.write(OsStr::new(name), b"", 0o600).unwrap_err();
            assert_eq!(e.kind(), io::ErrorKind::InvalidInput, "{name:?}");
        }
    }
}
