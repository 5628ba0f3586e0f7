//! The stable names udev makes in `DEV/disk/by-id`.

use std::collections::HashMap;
use std::fs;
use std::path::{Component, Path, PathBuf};

/// Kernel name -> the by-id paths that point at it, each list sorted.
///
/// Link targets are resolved by their text against the link's own folder,
/// never through the real file system: the dev root may be a fixture tree
/// whose `../../sda` must mean the fixture's `sda`. A missing or unreadable
/// folder means no links (containers often have none).
pub(crate) fn links(dev_root: &Path) -> HashMap<String, Vec<String>> {
    let dir = dev_root.join("disk/by-id");
    let mut map: HashMap<String, Vec<String>> = HashMap::new();
    for entry in fs::read_dir(&dir).into_iter().flatten().flatten() {
        let link = entry.path();
        let Ok(target) = fs::read_link(&link) else {
            continue;
        };
        let resolved = resolve_lexically(&dir, &target);
        if resolved.parent() != Some(dev_root) {
            continue;
        }
        if let Some(name) = resolved.file_name().and_then(|n| n.to_str()) {
            map.entry(name.to_string())
                .or_default()
                .push(link.to_string_lossy().into_owned());
        }
    }
    for paths in map.values_mut() {
        paths.sort();
    }
    map
}

/// `target` taken relative to `base` (or as is when absolute), with `.` and
/// `..` applied to the text.
fn resolve_lexically(base: &Path, target: &Path) -> PathBuf {
    let mut out = if target.is_absolute() {
        PathBuf::new()
    } else {
        base.to_path_buf()
    };
    for component in target.components() {
        match component {
            Component::ParentDir => {
                out.pop();
            }
            Component::CurDir => {}
            other => out.push(other),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn resolves_by_text() {
        let base = Path::new("/tmp/x/dev/disk/by-id");
        assert_eq!(
            resolve_lexically(base, Path::new("../../sda")),
            Path::new("/tmp/x/dev/sda")
        );
        assert_eq!(
            resolve_lexically(base, Path::new("/dev/./nvme0n1")),
            Path::new("/dev/nvme0n1")
        );
    }
}
