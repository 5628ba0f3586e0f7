//! The state directory: the identity now, trust and cluster state later.

use std::fs::{self, DirBuilder};
use std::os::unix::fs::{DirBuilderExt, PermissionsExt};
use std::path::Path;

use anyhow::{bail, Context};

/// Creates the directory (0700) if needed. An existing one is left as the
/// operator made it: changing the mode of, say, a mistyped `/tmp` would do
/// more harm than a warning. The secrets inside carry their own modes.
pub(crate) fn prepare(dir: &Path) -> anyhow::Result<()> {
    DirBuilder::new()
        .recursive(true)
        .mode(0o700)
        .create(dir)
        .with_context(|| format!("cannot create the state directory {}", dir.display()))?;
    let meta = fs::metadata(dir)
        .with_context(|| format!("cannot read the state directory {}", dir.display()))?;
    if !meta.is_dir() {
        bail!(
            "the state directory {} is not a directory; set `state_dir` in the configuration",
            dir.display()
        );
    }
    let mode = meta.permissions().mode() & 0o7777;
    if mode & 0o077 != 0 {
        tracing::warn!(
            dir = %dir.display(),
            mode = format_args!("{mode:04o}"),
            "the state directory is open to other users; 0700 is expected"
        );
    }
    Ok(())
}
