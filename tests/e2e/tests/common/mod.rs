//! Pieces the lab tests share.
#![allow(dead_code)] // Each test file uses its own part.

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::time::Instant;

use muster_lab::Lab;

pub mod trial;

/// A case's name and body, run by [`run_cases`] on a fixture `T`.
pub type Case<T> = (&'static str, fn(&T));

/// `case!(f)`: the case that runs the function `f`, named after it.
#[allow(unused_macros)] // Not every user of this module runs cases.
macro_rules! case {
    ($f:ident) => {
        (stringify!($f), $f as fn(&_))
    };
}
#[allow(unused_imports)] // Not every user of this module runs cases.
pub(crate) use case;

/// Whether `program` is found on `PATH`.
pub fn on_path(program: &str) -> bool {
    std::env::var_os("PATH")
        .map(|p| std::env::split_paths(&p).any(|d| d.join(program).is_file()))
        .unwrap_or(false)
}

/// A lab path as the `&str` a command line takes.
pub fn path_str(path: &Path) -> &str {
    path.to_str().expect("lab paths are UTF-8")
}

/// Runs named cases in order on one shared fixture, saying which runs and
/// how long each took (a failing case panics with its own message).
pub fn run_cases<T, F: Fn(&T)>(t: &T, cases: &[(&'static str, F)]) {
    for (name, case) in cases {
        let started = Instant::now();
        eprintln!("case {name}");
        case(t);
        eprintln!("case {name}: passed in {:.1?}", started.elapsed());
    }
}

/// A root-only file `dir/name` holding `text` and a newline.
pub fn secret(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    fs::write(&path, format!("{text}\n")).expect("write a passphrase file");
    fs::set_permissions(&path, fs::Permissions::from_mode(0o600)).expect("chmod 600");
    path
}

/// Prepends `enrollment_passphrase_file` to a server's musterd.toml (it
/// takes effect when the agent next starts).
pub fn enroll_with(lab: &Lab, server: usize, file: &Path) {
    let config = &lab.server(server).config;
    let text = fs::read_to_string(config).expect("read musterd.toml");
    let text = format!(
        "enrollment_passphrase_file = \"{}\"\n{text}",
        file.display()
    );
    fs::write(config, text).expect("write musterd.toml");
}
