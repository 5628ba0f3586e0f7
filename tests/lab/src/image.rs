//! A container image for the lab's clusters, made on this machine from
//! Debian's `busybox-static` (no network needed): a unified LXD image
//! tarball (`metadata.yaml` and `rootfs/`) whose init brings `eth0` up with
//! DHCP from the instance network and then idles, so a test can launch it on
//! any member, see it RUNNING with an address and `lxc exec` into it.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::error::IoContext;
use crate::{sys, LabError};

/// Where Debian's busybox-static puts its binary.
pub const BUSYBOX: &str = "/bin/busybox";

/// The alias tests and the demo import the image under.
pub const IMAGE_ALIAS: &str = "muster-busybox";

/// busybox's init reads this; without it, it would start shells on ttys
/// the container does not have.
const INITTAB: &str = "\
::sysinit:/bin/mount -t tmpfs tmpfs /tmp
::sysinit:/bin/ip link set lo up
::respawn:/bin/udhcpc -f -i eth0 -s /etc/udhcpc.script
";

/// udhcpc leaves configuring the interface to its script; `mask` is the
/// prefix length.
const UDHCPC_SCRIPT: &str = "\
#!/bin/sh
case \"$1\" in
  deconfig) ip link set \"$interface\" up; ip -4 addr flush dev \"$interface\" ;;
  bound|renew)
    ip -4 addr flush dev \"$interface\"
    ip -4 addr add \"$ip/$mask\" dev \"$interface\"
    for r in $router; do ip -4 route replace default via \"$r\"; break; done ;;
esac
";

fn metadata(created_unix: u64) -> String {
    format!(
        "architecture: x86_64\ncreation_date: {created_unix}\nproperties:\n  \
         description: busybox for muster's lab (from Debian's busybox-static)\n  os: busybox\n  \
         release: lab\n"
    )
}

/// Writes the image tarball into `dir` (made if missing) and gives its
/// path. Needs [`BUSYBOX`] (package busybox-static) and `tar`.
pub fn busybox_image(dir: &Path) -> Result<PathBuf, LabError> {
    if !Path::new(BUSYBOX).is_file() {
        return Err(LabError::Spec(format!(
            "{BUSYBOX} is missing: install busybox-static (apt-get install busybox-static), \
             the lab's container image is made from it"
        )));
    }
    let tree = dir.join("busybox-image");
    if tree.exists() {
        fs::remove_dir_all(&tree).ctx(|| format!("removing {}", tree.display()))?;
    }
    let rootfs = tree.join("rootfs");
    for sub in [
        "bin", "sbin", "etc", "dev", "proc", "sys", "tmp", "run", "root", "var",
    ] {
        let d = rootfs.join(sub);
        fs::create_dir_all(&d).ctx(|| format!("creating {}", d.display()))?;
    }
    let bin = rootfs.join("bin");
    fs::copy(BUSYBOX, bin.join("busybox")).ctx(|| format!("copying {BUSYBOX}"))?;
    let applets = sys::run(Command::new(BUSYBOX).arg("--list"))?;
    for applet in applets.lines().map(str::trim).filter(|a| !a.is_empty()) {
        if applet == "busybox" || applet.contains('/') {
            continue;
        }
        let link = bin.join(applet);
        symlink("busybox", &link).ctx(|| format!("linking {}", link.display()))?;
    }
    let init = rootfs.join("sbin/init");
    symlink("../bin/busybox", &init).ctx(|| format!("linking {}", init.display()))?;
    let etc = rootfs.join("etc");
    write(&etc.join("inittab"), INITTAB, 0o644)?;
    write(&etc.join("udhcpc.script"), UDHCPC_SCRIPT, 0o755)?;
    write(&etc.join("hostname"), "busybox\n", 0o644)?;
    write(
        &etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\n",
        0o644,
    )?;
    write(&etc.join("group"), "root:x:0:\n", 0o644)?;
    let created = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_secs())
        .unwrap_or_default();
    write(&tree.join("metadata.yaml"), &metadata(created), 0o644)?;
    let tarball = dir.join("busybox.tar.gz");
    sys::run(
        Command::new("tar")
            .arg("-C")
            .arg(&tree)
            .args(["--numeric-owner", "--owner=0", "--group=0", "-czf"])
            .arg(&tarball)
            .args(["metadata.yaml", "rootfs"]),
    )?;
    fs::remove_dir_all(&tree).ctx(|| format!("removing {}", tree.display()))?;
    Ok(tarball)
}

fn write(path: &Path, text: &str, mode: u32) -> Result<(), LabError> {
    fs::write(path, text).ctx(|| format!("writing {}", path.display()))?;
    fs::set_permissions(path, fs::Permissions::from_mode(mode))
        .ctx(|| format!("chmod {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_image_has_metadata_an_init_and_a_dhcp_client() {
        if !Path::new(BUSYBOX).is_file() {
            panic!("this test did not run: {BUSYBOX} is missing (apt-get install busybox-static)");
        }
        let dir = tempfile::tempdir().unwrap();
        let tarball = busybox_image(dir.path()).expect("make the image");
        let listing = sys::run(Command::new("tar").arg("-tzvf").arg(&tarball)).unwrap();
        for entry in [
            "metadata.yaml",
            "rootfs/sbin/init -> ../bin/busybox",
            "rootfs/bin/udhcpc -> busybox",
            "rootfs/bin/sh -> busybox",
            "rootfs/etc/inittab",
            "rootfs/etc/udhcpc.script",
        ] {
            assert!(listing.contains(entry), "{entry} missing from:\n{listing}");
        }
        assert!(
            listing.lines().all(|l| l.contains(" 0/0 ")),
            "every file is root's:\n{listing}"
        );
        assert!(metadata(7).contains("creation_date: 7"));
    }
}
