//! Running programs: the seam between the driver and the machine. The
//! production runner and the lab's run programs for real (the lab's inside
//! a network namespace); tests record what would run.

use std::fmt;
use std::fs::File;
use std::io::{Read, Seek, Write};
use std::process::{Command, Stdio};
use std::thread;
use std::time::{Duration, Instant};

use command_fds::{CommandFdExt, FdMapping};
use nix::sys::memfd::{memfd_create, MFdFlags};

use crate::error::CephError;

/// A program to run, with its arguments, what to feed its stdin and the
/// files handed to it open ([`Cmd::hand`]).
#[derive(Clone, PartialEq, Eq)]
pub struct Cmd {
    pub program: String,
    pub args: Vec<String>,
    pub stdin: Option<Vec<u8>>,
    /// The contents of the files the program finds at [`handed_path`]`(i)`.
    pub handed: Vec<Vec<u8>>,
}

/// The descriptor the first handed file gets in the program.
const FIRST_HANDED_FD: usize = 3;

/// Where the program opens the `i`th file handed to it ([`Cmd::hand`]).
pub fn handed_path(i: usize) -> String {
    format!("/proc/self/fd/{}", FIRST_HANDED_FD + i)
}

impl Cmd {
    pub fn new<I, S>(program: &str, args: I) -> Cmd
    where
        I: IntoIterator<Item = S>,
        S: Into<String>,
    {
        Cmd {
            program: program.to_owned(),
            args: args.into_iter().map(Into::into).collect(),
            stdin: None,
            handed: Vec::new(),
        }
    }

    pub fn stdin(mut self, input: impl Into<Vec<u8>>) -> Cmd {
        self.stdin = Some(input.into());
        self
    }

    /// Hands `contents` to the program as an open file, the next
    /// [`handed_path`]: a file in no directory (a memfd), so a program that
    /// drops root (`--setuser`) still reads it, where it could not reach
    /// root's own scratch directory, and no other user can open it.
    pub fn hand(mut self, contents: impl Into<Vec<u8>>) -> Cmd {
        self.handed.push(contents.into());
        self
    }
}

impl fmt::Display for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.program)?;
        for a in &self.args {
            if a.is_empty() || a.contains(|c: char| c.is_whitespace() || c == '\'') {
                write!(f, " '{}'", a.replace('\'', r"'\''"))?;
            } else {
                write!(f, " {a}")?;
            }
        }
        Ok(())
    }
}

/// How many bytes a secret-bearing buffer holds, for `Debug`: a Cmd's stdin
/// carries an OSD's cephx secret (`ceph osd new -i -`), its handed files a
/// mon's keyring, and an output's stdout keys (`ceph-authtool
/// --gen-print-key`, `ceph auth get`), and `Debug` ends up in logs and
/// panic messages.
struct Withheld(usize);

impl fmt::Debug for Withheld {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "<{} bytes, withheld: may hold a key>", self.0)
    }
}

impl fmt::Debug for Cmd {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Cmd")
            .field("program", &self.program)
            .field("args", &self.args)
            .field("stdin", &self.stdin.as_ref().map(|s| Withheld(s.len())))
            .field(
                "handed",
                &self
                    .handed
                    .iter()
                    .map(|f| Withheld(f.len()))
                    .collect::<Vec<_>>(),
            )
            .finish()
    }
}

/// What a program did.
#[derive(Clone, PartialEq, Eq, Default)]
pub struct CmdOutput {
    /// The exit code; `None` when a signal ended it.
    pub code: Option<i32>,
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
}

impl fmt::Debug for CmdOutput {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CmdOutput")
            .field("code", &self.code)
            .field("stdout", &Withheld(self.stdout.len()))
            .field("stderr", &String::from_utf8_lossy(&self.stderr))
            .finish()
    }
}

impl CmdOutput {
    pub fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The output, or the failure with the program's stderr (its stdout
    /// when stderr is empty), keys withheld ([`withhold_keys`]).
    pub fn check(self, cmd: &Cmd) -> Result<CmdOutput, CephError> {
        if self.success() {
            return Ok(self);
        }
        let mut said = String::from_utf8_lossy(&self.stderr);
        if said.trim().is_empty() {
            said = String::from_utf8_lossy(&self.stdout);
        }
        // A failure's text reaches logs and the operator's screen, and the
        // tools print keys: `ceph auth get-or-create` a keyring,
        // `ceph-authtool --gen-print-key` a bare key, `auth ls` JSON.
        let mut stderr = withhold_keys(said.trim());
        // Ceph tools can be chatty: the end says what went wrong.
        if stderr.len() > 2000 {
            let mut cut = stderr.len() - 2000;
            while !stderr.is_char_boundary(cut) {
                cut += 1;
            }
            stderr = format!("...{}", &stderr[cut..]);
        }
        Err(CephError::Failed {
            command: cmd.to_string(),
            status: match self.code {
                Some(c) => format!("exit code {c}"),
                None => "killed by a signal".into(),
            },
            stderr,
        })
    }
}

/// Stands for a key in a failed command's text.
const WITHHELD_KEY: &str = "<key withheld>";

/// `text` with every cephx key replaced by [`WITHHELD_KEY`]: the value of
/// a `key = ...` line (a keyring), and anything shaped like a cephx secret
/// wherever it stands (a bare key, a JSON field). Pure.
pub(crate) fn withhold_keys(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for (i, line) in text.split('\n').enumerate() {
        if i > 0 {
            out.push('\n');
        }
        match keyring_value(line) {
            Some(at) => {
                out.push_str(&line[..at]);
                out.push_str(WITHHELD_KEY);
            }
            None => out.push_str(&withhold_secrets(line)),
        }
    }
    out
}

/// Where the value starts on a keyring's `key = VALUE` line.
fn keyring_value(line: &str) -> Option<usize> {
    let rest = line.trim_start().strip_prefix("key")?.trim_start();
    let value = rest.strip_prefix('=')?;
    let value = value.trim_start();
    Some(line.len() - value.len())
}

/// Ceph's secrets are base64 of a 2-byte type (1, AES: "AQ..."), a time, a
/// length and the key bytes: 40 characters for the usual 16-byte key.
fn is_cephx_secret(word: &str) -> bool {
    word.len() >= 24 && word.starts_with("AQ")
}

/// `line` with each base64 word (its `=` padding included) that is shaped
/// like a cephx secret withheld.
fn withhold_secrets(line: &str) -> String {
    let is_base64 = |c: char| c.is_ascii_alphanumeric() || c == '+' || c == '/';
    let mut out = String::with_capacity(line.len());
    let mut rest = line;
    while let Some(start) = rest.find(is_base64) {
        out.push_str(&rest[..start]);
        let word = &rest[start..];
        let mut len = word.find(|c| !is_base64(c)).unwrap_or(word.len());
        len += word[len..].len() - word[len..].trim_start_matches('=').len();
        let word = &word[..len];
        out.push_str(if is_cephx_secret(word) {
            WITHHELD_KEY
        } else {
            word
        });
        rest = &rest[start + len..];
    }
    out.push_str(rest);
    out
}

/// Runs a program to completion. A non-zero exit is not an error here
/// (callers decide, with [`CmdOutput::check`]); failing to run it is.
pub trait CommandRunner: Send + Sync {
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput, CephError>;
}

/// Runs programs on this machine, inside the network namespace `netns`
/// when there is one (the lab), killing any that outlives `timeout`.
#[derive(Debug, Clone)]
pub struct HostRunner {
    pub netns: Option<String>,
    pub timeout: Duration,
}

impl HostRunner {
    pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(120);

    pub fn new() -> HostRunner {
        HostRunner {
            netns: None,
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    pub fn in_netns(netns: impl Into<String>) -> HostRunner {
        HostRunner {
            netns: Some(netns.into()),
            timeout: Self::DEFAULT_TIMEOUT,
        }
    }

    /// The process to spawn for `cmd`: `ip netns exec` execs the program
    /// in place, so the child's pid is the program's.
    pub(crate) fn command(netns: Option<&str>, program: &str, args: &[String]) -> Command {
        match netns {
            Some(ns) => {
                let mut c = Command::new("ip");
                c.args(["netns", "exec", ns, program]).args(args);
                c
            }
            None => {
                let mut c = Command::new(program);
                c.args(args);
                c
            }
        }
    }
}

impl Default for HostRunner {
    fn default() -> Self {
        HostRunner::new()
    }
}

fn drain(mut r: impl Read + Send + 'static) -> thread::JoinHandle<Vec<u8>> {
    thread::spawn(move || {
        let mut buf = Vec::new();
        let _ = r.read_to_end(&mut buf);
        buf
    })
}

/// `cmd`'s handed files as memfds, each mapped to its descriptor in the
/// program (the rest of this process's descriptors close on exec).
fn handed_files(cmd: &Cmd) -> std::io::Result<Vec<FdMapping>> {
    cmd.handed
        .iter()
        .enumerate()
        .map(|(i, contents)| {
            let mut file = File::from(memfd_create("muster-handed", MFdFlags::MFD_CLOEXEC)?);
            file.write_all(contents)?;
            // For a program that reads the descriptor itself rather than
            // opening its path anew.
            file.rewind()?;
            Ok(FdMapping {
                parent_fd: file.into(),
                child_fd: (FIRST_HANDED_FD + i) as i32,
            })
        })
        .collect()
}

impl CommandRunner for HostRunner {
    fn run(&self, cmd: &Cmd) -> Result<CmdOutput, CephError> {
        let shown = || match &self.netns {
            Some(ns) => format!("{cmd} (in netns {ns})"),
            None => cmd.to_string(),
        };
        let mut command = HostRunner::command(self.netns.as_deref(), &cmd.program, &cmd.args);
        command
            .stdin(if cmd.stdin.is_some() {
                Stdio::piped()
            } else {
                Stdio::null()
            })
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        if !cmd.handed.is_empty() {
            let handed = handed_files(cmd).and_then(|files| {
                command
                    .fd_mappings(files)
                    .map(drop)
                    .map_err(std::io::Error::other)
            });
            handed.map_err(|source| CephError::Handing {
                command: shown(),
                source,
            })?;
        }
        let mut child = command.spawn().map_err(|source| CephError::Spawn {
            command: shown(),
            source,
        })?;
        if let (Some(input), Some(mut pipe)) = (&cmd.stdin, child.stdin.take()) {
            // Small inputs (a JSON secret): fits the pipe buffer.
            let _ = pipe.write_all(input);
        }
        let out = drain(child.stdout.take().expect("piped"));
        let err = drain(child.stderr.take().expect("piped"));
        let start = Instant::now();
        let status = loop {
            match child.try_wait() {
                Ok(Some(status)) => break status,
                Ok(None) if start.elapsed() < self.timeout => {
                    thread::sleep(Duration::from_millis(20))
                }
                Ok(None) => {
                    let _ = child.kill();
                    let _ = child.wait();
                    return Err(CephError::CommandTimeout {
                        command: shown(),
                        waited: self.timeout,
                    });
                }
                Err(source) => {
                    return Err(CephError::Spawn {
                        command: shown(),
                        source,
                    })
                }
            }
        };
        Ok(CmdOutput {
            code: status.code(),
            stdout: out.join().unwrap_or_default(),
            stderr: err.join().unwrap_or_default(),
        })
    }
}

#[cfg(test)]
pub(crate) mod recording {
    use std::sync::Mutex;

    use super::*;

    /// Done as a command runs, in place of the real program.
    pub type Effect = Box<dyn Fn(&Cmd) + Send>;

    /// Records every command and answers each with a canned output.
    #[derive(Default)]
    pub struct Recorder {
        pub commands: Mutex<Vec<Cmd>>,
        pub answers: Mutex<Vec<CmdOutput>>,
        /// What the real program would leave behind (the files it
        /// writes), done as each command runs.
        pub effect: Mutex<Option<Effect>>,
    }

    impl Recorder {
        pub fn lines(&self) -> Vec<String> {
            self.commands
                .lock()
                .unwrap()
                .iter()
                .map(|c| c.to_string())
                .collect()
        }
    }

    impl CommandRunner for Recorder {
        fn run(&self, cmd: &Cmd) -> Result<CmdOutput, CephError> {
            self.commands.lock().unwrap().push(cmd.clone());
            if let Some(effect) = &*self.effect.lock().unwrap() {
                effect(cmd);
            }
            let mut answers = self.answers.lock().unwrap();
            Ok(if answers.is_empty() {
                CmdOutput {
                    code: Some(0),
                    ..Default::default()
                }
            } else {
                answers.remove(0)
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_never_shows_a_key() {
        let key = "AQBsecretsecretsecretsecretsecret==";
        let cmd = Cmd::new("ceph", ["osd", "new", "UUID", "-i", "-"])
            .stdin(format!(r#"{{"cephx_secret":"{key}"}}"#));
        let out = CmdOutput {
            code: Some(0),
            stdout: format!("[mgr.s1]\n\tkey = {key}\n").into_bytes(),
            stderr: b"a warning".to_vec(),
        };
        for shown in [
            format!("{cmd:?}"),
            format!("{out:?}"),
            format!("{cmd:#?}{out:#?}"),
        ] {
            assert!(!shown.contains(key), "{shown}");
            assert!(!shown.contains("AQB"), "{shown}");
        }
        assert!(format!("{cmd:?}").contains("\"osd\", \"new\""));
        assert!(format!("{out:?}").contains("a warning"));
    }

    #[test]
    fn commands_show_as_a_shell_would_read_them() {
        let c = Cmd::new(
            "ceph",
            [
                "auth",
                "get-or-create",
                "mgr.s1",
                "mon",
                "allow profile mgr",
            ],
        );
        assert_eq!(
            c.to_string(),
            "ceph auth get-or-create mgr.s1 mon 'allow profile mgr'"
        );
        assert_eq!(Cmd::new("x", ["it's", ""]).to_string(), r"x 'it'\''s' ''");
    }

    #[test]
    fn a_failure_carries_stderr_and_the_exit_code() {
        let c = Cmd::new("false", Vec::<String>::new());
        let out = CmdOutput {
            code: Some(2),
            stdout: vec![],
            stderr: b"Error EINVAL: bad\n".to_vec(),
        };
        let e = out.check(&c).unwrap_err().to_string();
        assert_eq!(e, "`false` failed (exit code 2): Error EINVAL: bad");
    }

    #[test]
    fn a_failure_never_shows_a_key() {
        let key = "AQBsecretsecretsecretsecretsecret0123==";
        let c = Cmd::new("ceph", ["auth", "get-or-create", "mgr.s1"]);
        // Only stdout to report: the keyring a half-failed command printed.
        let out = CmdOutput {
            code: Some(1),
            stdout: format!("[mgr.s1]\n\tkey = {key}\n\tcaps mon = \"allow profile mgr\"\n")
                .into_bytes(),
            stderr: vec![],
        };
        let e = out.check(&c).unwrap_err().to_string();
        assert!(!e.contains("AQB"), "{e}");
        assert!(
            e.contains("[mgr.s1]\n\tkey = <key withheld>\n\tcaps mon"),
            "{e}"
        );
        // A bare key, a key in JSON, a key in stderr's words.
        for said in [
            format!("{key}\n"),
            format!(r#"{{"entity":"mgr.s1","key":"{key}","caps":{{}}}}"#),
            format!("Error EINVAL: key {key} does not match"),
            format!("key={key}"),
            format!("Error EPERM: bad key={key}, try again"),
        ] {
            let out = CmdOutput {
                code: Some(22),
                stdout: said.clone().into_bytes(),
                stderr: said.into_bytes(),
            };
            let e = out.check(&c).unwrap_err().to_string();
            assert!(
                !e.contains("AQB") && !e.contains("==") && e.contains(WITHHELD_KEY),
                "{e}"
            );
        }
        // What is not a key stays as Ceph said it.
        let words = "Error ENOENT: failed to find client.admin in keyring (AQ is 2 letters)";
        assert_eq!(withhold_keys(words), words);
        assert_eq!(
            withhold_keys("keyring = /etc/ceph/x"),
            "keyring = /etc/ceph/x"
        );
    }

    #[test]
    fn a_handed_file_is_read_by_its_path_even_after_dropping_root() {
        let key = b"[mon.]\n\tkey = AQBmon==\n".to_vec();
        let cmd = Cmd::new("cat", [handed_path(0), handed_path(1), handed_path(0)])
            .hand(b"monmap\n".to_vec())
            .hand(key.clone());
        let out = HostRunner::new().run(&cmd).unwrap();
        assert_eq!(out.stdout, [&b"monmap\n"[..], &key, b"monmap\n"].concat());
        assert!(format!("{cmd:?}").contains("withheld"), "{cmd:?}");
        assert!(!format!("{cmd:?}").contains("AQB"), "{cmd:?}");
        if !nix::unistd::geteuid().is_root() {
            eprintln!("not root: dropping to another user cannot be tried here");
            return;
        }
        // As `ceph-mon --setuser` does: the user it becomes reads them.
        let mut args = vec!["--reuid=65534", "--regid=65534", "--clear-groups", "cat"];
        let (first, second) = (handed_path(0), handed_path(1));
        args.extend([first.as_str(), second.as_str()]);
        let dropped = Cmd::new("setpriv", args)
            .hand(b"monmap\n".to_vec())
            .hand(key.clone());
        let out = HostRunner::new()
            .run(&dropped)
            .unwrap()
            .check(&dropped)
            .unwrap();
        assert_eq!(out.stdout, [&b"monmap\n"[..], &key].concat());
    }

    #[test]
    fn the_host_runner_runs_feeds_stdin_and_times_out() {
        let r = HostRunner::new();
        let out = r
            .run(&Cmd::new("cat", Vec::<String>::new()).stdin("hi"))
            .unwrap();
        assert_eq!(out.stdout, b"hi");
        let slow = HostRunner {
            netns: None,
            timeout: Duration::from_millis(100),
        };
        let e = slow.run(&Cmd::new("sleep", ["5"])).unwrap_err();
        assert!(matches!(e, CephError::CommandTimeout { .. }), "{e}");
    }
}
