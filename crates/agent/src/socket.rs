//! The unix socket for the local CLI.

use std::fs;
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, PermissionsExt};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context};

/// Owner and group may talk to the agent; the group is how an operator
/// grants the CLI to non-root users.
const SOCKET_MODE: u32 = 0o660;

/// The socket file this agent created; dropping it removes the file unless
/// it has since been replaced by another agent's.
#[derive(Debug)]
pub(crate) struct SocketFile {
    path: PathBuf,
    dev: u64,
    ino: u64,
}

impl SocketFile {
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for SocketFile {
    fn drop(&mut self) {
        let ours = fs::symlink_metadata(&self.path)
            .map(|m| m.dev() == self.dev && m.ino() == self.ino)
            .unwrap_or(false);
        if ours {
            if let Err(e) = fs::remove_file(&self.path) {
                tracing::warn!(path = %self.path.display(), error = %e, "cannot remove the socket");
            }
        }
    }
}

/// Binds the socket, first removing a stale socket file left by an agent
/// that died, but never a live one nor anything that is not a socket.
pub(crate) fn bind(path: &Path) -> anyhow::Result<(UnixListener, SocketFile)> {
    if let Some(parent) = path.parent().filter(|p| !p.as_os_str().is_empty()) {
        fs::create_dir_all(parent)
            .with_context(|| format!("cannot create the directory {}", parent.display()))?;
    }
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.file_type().is_socket() => remove_if_stale(path)?,
        Ok(_) => bail!(
            "{} exists and is not a socket; move it away or set `socket` in the configuration",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::NotFound => {}
        Err(e) => return Err(e).with_context(|| format!("cannot inspect {}", path.display())),
    }

    let listener = UnixListener::bind(path)
        .with_context(|| format!("cannot listen on the unix socket {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(SOCKET_MODE))
        .with_context(|| format!("cannot set the mode of {}", path.display()))?;
    let meta =
        fs::symlink_metadata(path).with_context(|| format!("cannot inspect {}", path.display()))?;
    listener
        .set_nonblocking(true)
        .context("cannot make the unix socket non-blocking")?;
    let file = SocketFile {
        path: path.to_owned(),
        dev: meta.dev(),
        ino: meta.ino(),
    };
    Ok((listener, file))
}

fn remove_if_stale(path: &Path) -> anyhow::Result<()> {
    match UnixStream::connect(path) {
        Ok(_) => bail!(
            "another musterd is already listening on {}; stop it first, or give this one \
             another `socket` in its configuration",
            path.display()
        ),
        Err(e) if e.kind() == io::ErrorKind::ConnectionRefused => {
            tracing::info!(path = %path.display(), "removing a stale socket left by an earlier run");
            fs::remove_file(path).with_context(|| format!("cannot remove {}", path.display()))
        }
        Err(e) => {
            Err(e).with_context(|| format!("cannot check whether {} is in use", path.display()))
        }
    }
}
