//! Which of the programs plan steps run ([`muster_plan::TOOLS`]) this
//! server has, for the planner's pre-flight: found the way the agent's own
//! commands will be, on its PATH.

use std::ffi::OsStr;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

/// The programs of [`muster_plan::TOOLS`] on this process's PATH.
pub(crate) fn installed() -> Vec<String> {
    found(std::env::var_os("PATH").as_deref(), is_executable_file)
}

/// The programs of [`muster_plan::TOOLS`] that `is_program` finds in a
/// directory of `path`. Empty entries (the current directory, for execvp)
/// are skipped: musterd's directory is no place for its tools.
fn found(path: Option<&OsStr>, is_program: impl Fn(&Path) -> bool) -> Vec<String> {
    let dirs: Vec<_> = path
        .map(|p| std::env::split_paths(p).collect())
        .unwrap_or_default();
    muster_plan::TOOLS
        .iter()
        .map(|t| t.program)
        .filter(|program| {
            dirs.iter()
                .filter(|d| !d.as_os_str().is_empty())
                .any(|d| is_program(&d.join(program)))
        })
        .map(str::to_owned)
        .collect()
}

/// A file (links followed) that someone may execute.
fn is_executable_file(path: &Path) -> bool {
    std::fs::metadata(path).is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(test)]
mod tests {
    use std::fs;

    use super::*;

    #[test]
    fn programs_are_found_in_any_directory_of_the_path() {
        let has = |p: &Path| p == Path::new("/b/ceph") || p == Path::new("/a/rbd");
        let path = OsStr::new("/a:/b");
        assert_eq!(found(Some(path), has), ["ceph", "rbd"]);
        assert_eq!(found(Some(OsStr::new("/a")), has), ["rbd"]);
        assert!(found(None, has).is_empty());
    }

    #[test]
    fn the_current_directory_is_not_searched() {
        let has = |p: &Path| p == Path::new("ceph");
        assert!(found(Some(OsStr::new(":/a")), has).is_empty());
    }

    #[test]
    fn only_executable_files_count() {
        let dir = tempfile::tempdir().unwrap();
        let program = dir.path().join("ceph");
        fs::write(&program, "#!/bin/sh\n").unwrap();
        fs::set_permissions(&program, fs::Permissions::from_mode(0o644)).unwrap();
        assert!(!is_executable_file(&program));
        fs::set_permissions(&program, fs::Permissions::from_mode(0o755)).unwrap();
        assert!(is_executable_file(&program));
        assert!(!is_executable_file(dir.path()), "a directory");
        assert!(
            !is_executable_file(&dir.path().join("rbd")),
            "nothing there"
        );
    }
}
