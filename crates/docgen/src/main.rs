//! `muster-docgen OUT_DIR`: writes the man pages and shell completions that
//! the Debian package ships, from the same clap definitions the programs
//! parse their arguments with, so the documentation cannot drift from them.
//!
//! ```text
//! OUT_DIR/man/muster.1 muster-peers.1 ... musterd.8
//! OUT_DIR/completions/muster.bash _muster muster.fish
//! ```

use std::fs;
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Context};
use clap::{Arg, Command};
use clap_complete::Shell;
use clap_mangen::roff::{bold, roman, Inline, Roff};
use clap_mangen::Man;

/// The commented default configuration that the package installs as
/// /etc/muster/musterd.toml; musterd(8) shows it whole.
const DEFAULT_CONFIG: &str = include_str!("../../../packaging/musterd.toml");

/// Names the generator writes; packaging/build-deb and packaging/test-deb
/// expect exactly these.
const BASH: &str = "muster.bash";
const ZSH: &str = "_muster";
const FISH: &str = "muster.fish";

fn main() -> ExitCode {
    match run() {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

fn run() -> anyhow::Result<()> {
    let cli = Command::new("muster-docgen")
        .about("Write muster's man pages and shell completions")
        .arg(
            Arg::new("out_dir")
                .value_name("OUT_DIR")
                .value_parser(clap::value_parser!(PathBuf))
                .required(true),
        )
        .arg(
            Arg::new("date")
                .long("date")
                .value_name("YYYY-MM-DD")
                .help("Date in the pages' title lines (the package's changelog date)"),
        );
    let matches = cli.get_matches();
    let out = matches.get_one::<PathBuf>("out_dir").expect("required");
    let date = matches
        .get_one::<String>("date")
        .cloned()
        .unwrap_or_default();
    if !date.is_empty() && !looks_like_a_date(&date) {
        bail!("--date {date:?}: expected YYYY-MM-DD");
    }

    let man_dir = out.join("man");
    let completions_dir = out.join("completions");
    for dir in [&man_dir, &completions_dir] {
        fs::create_dir_all(dir).with_context(|| format!("cannot create {}", dir.display()))?;
    }
    for page in pages(&date) {
        let path = man_dir.join(&page.file_name);
        fs::write(&path, &page.text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    for (shell, name) in [(Shell::Bash, BASH), (Shell::Zsh, ZSH), (Shell::Fish, FISH)] {
        let path = completions_dir.join(name);
        let mut text = Vec::new();
        clap_complete::generate(shell, &mut muster_cli::command(), "muster", &mut text);
        fs::write(&path, text).with_context(|| format!("cannot write {}", path.display()))?;
    }
    Ok(())
}

fn looks_like_a_date(s: &str) -> bool {
    let b = s.as_bytes();
    b.len() == 10
        && b.iter().enumerate().all(|(i, c)| match i {
            4 | 7 => *c == b'-',
            _ => c.is_ascii_digit(),
        })
}

struct Page {
    file_name: String,
    text: Vec<u8>,
}

/// Every page: muster(1), one per subcommand at any depth
/// (muster-peers(1)...), musterd(8).
fn pages(date: &str) -> Vec<Page> {
    // The `help` subcommand is clap's, not muster's: no page for it.
    let mut cli = muster_cli::command().disable_help_subcommand(true);
    // Building names the subcommands "muster-peers"... and hands them the
    // global options, as `muster peers --help` shows them.
    cli.build();
    let top_level: Vec<String> = visible_subcommands(&cli)
        .map(|s| display_name(s).to_owned())
        .collect();

    let mut pages = Vec::new();
    let mut see_also = vec![("musterd".to_owned(), "8")];
    see_also.extend(top_level.iter().map(|n| (n.clone(), "1")));
    pages.push(page(cli.clone(), "1", date, &muster_extras(&see_also)));
    subcommand_pages(&cli, date, &mut pages);

    let mut see_also = vec![("muster".to_owned(), "1")];
    see_also.extend(top_level.iter().map(|n| (n.clone(), "1")));
    see_also.push(("systemd.service".to_owned(), "5"));
    let agent = muster_agent::command();
    pages.push(page(agent, "8", date, &musterd_extras(&see_also)));
    pages
}

fn subcommand_pages(parent: &Command, date: &str, pages: &mut Vec<Page>) {
    for sub in visible_subcommands(parent) {
        let mut see_also = vec![(display_name(parent).to_owned(), "1")];
        if display_name(parent) != "muster" {
            see_also.insert(0, ("muster".to_owned(), "1"));
        }
        see_also.extend(visible_subcommands(sub).map(|s| (display_name(s).to_owned(), "1")));
        see_also.push(("musterd".to_owned(), "8"));
        pages.push(page(sub.clone(), "1", date, &muster_extras(&see_also)));
        subcommand_pages(sub, date, pages);
    }
}

fn visible_subcommands(cmd: &Command) -> impl Iterator<Item = &Command> {
    cmd.get_subcommands().filter(|s| !s.is_hide_set())
}

fn display_name(cmd: &Command) -> &str {
    cmd.get_display_name().unwrap_or_else(|| cmd.get_name())
}

/// clap_mangen's sections, then ours, with VERSION last.
fn page(cmd: Command, section: &str, date: &str, extras: &Roff) -> Page {
    let has_options = cmd.get_arguments().any(|a| !a.is_hide_set());
    let has_subcommands = cmd.get_subcommands().any(|s| !s.is_hide_set());
    // Subcommand pages would say "peers 0.1.0": the package is muster.
    let source = format!("muster {}", muster_proto::VERSION);
    let man = Man::new(cmd).section(section).date(date).source(source);
    let mut text = Vec::new();
    let write = |text: &mut Vec<u8>| -> std::io::Result<()> {
        man.render_title(text)?;
        man.render_name_section(text)?;
        man.render_synopsis_section(text)?;
        man.render_description_section(text)?;
        if has_options {
            man.render_options_section(text)?;
        }
        if has_subcommands {
            man.render_subcommands_section(text)?;
        }
        extras.to_writer(text)?;
        man.render_version_section(text)
    };
    write(&mut text).expect("writing to memory cannot fail");
    Page {
        file_name: man.get_filename(),
        text,
    }
}

fn muster_extras(see_also: &[(String, &str)]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 on success, 1 when the command failed (the reason is printed on standard \
         error as \"error: ...\"), 2 when the command line is wrong.",
    )]);

    roff.control("SH", ["ENVIRONMENT"]);
    tagged(
        &mut roff,
        "MUSTER_SOCKET",
        "The local agent's unix socket, as --socket sets it.",
    );
    tagged(
        &mut roff,
        "RUST_LOG",
        "Diagnostics on standard error, as a tracing filter (default: warn).",
    );

    roff.control("SH", ["FILES"]);
    tagged(
        &mut roff,
        muster_proto::DEFAULT_SOCKET_PATH,
        "The unix socket of musterd(8), the agent on this server; talking to it needs \
         root (or the socket's group).",
    );
    see_also_section(&mut roff, see_also);
    roff
}

fn musterd_extras(see_also: &[(String, &str)]) -> Roff {
    let mut roff = Roff::new();
    roff.control("SH", ["CONFIGURATION"]);
    roff.text([roman(format!(
        "musterd reads {} (or the file given with --config). Every key is optional; \
         an unknown key is an error, reported with the file, line and key. The file \
         installed by the package has every key commented out with its default:",
        muster_proto::DEFAULT_CONFIG_PATH
    ))]);
    preformatted(&mut roff, DEFAULT_CONFIG);

    roff.control("SH", ["EXIT STATUS"]);
    roff.text([roman(
        "0 after SIGTERM or SIGINT once the agent has said goodbye over mDNS and \
         closed its sockets; 1 when it cannot start or fails (the reason is printed \
         on standard error as \"error: ...\"); 2 when the command line is wrong.",
    )]);

    roff.control("SH", ["ENVIRONMENT"]);
    tagged(
        &mut roff,
        "RUST_LOG",
        "Log filter, in tracing's syntax (default: info). Logs go to standard error, \
         which is the journal under systemd.",
    );
    tagged(
        &mut roff,
        "NOTIFY_SOCKET",
        "Set by systemd for Type=notify: musterd reports READY=1 once it listens and \
         advertises.",
    );

    roff.control("SH", ["FILES"]);
    tagged(
        &mut roff,
        muster_proto::DEFAULT_CONFIG_PATH,
        "The configuration.",
    );
    tagged(
        &mut roff,
        muster_proto::DEFAULT_STATE_DIR,
        "State (mode 0700): the server's identity (identity/cert.pem, and \
         identity/key.pem readable by root only). Kept when the package is removed, \
         deleted when it is purged.",
    );
    tagged(
        &mut roff,
        muster_proto::DEFAULT_SOCKET_PATH,
        "The unix socket muster(1) talks to.",
    );
    tagged(
        &mut roff,
        "/lib/systemd/system/musterd.service",
        "The systemd unit: systemctl status musterd, journalctl -u musterd.",
    );
    see_also_section(&mut roff, see_also);
    roff
}

fn tagged(roff: &mut Roff, tag: &str, text: &str) {
    roff.control("TP", []);
    roff.text([bold(tag)]);
    roff.text([roman(text)]);
}

fn preformatted(roff: &mut Roff, text: &str) {
    roff.control("PP", []);
    roff.control("RS", ["4"]);
    roff.control("nf", []);
    for line in text.lines() {
        roff.text([roman(line)]);
    }
    roff.control("fi", []);
    roff.control("RE", []);
}

fn see_also_section(roff: &mut Roff, pages: &[(String, &str)]) {
    roff.control("SH", ["SEE ALSO"]);
    let mut line: Vec<Inline> = Vec::new();
    for (i, (name, section)) in pages.iter().enumerate() {
        if i > 0 {
            line.push(roman(", "));
        }
        line.push(bold(name.as_str()));
        line.push(roman(format!("({section})")));
    }
    roff.text(line);
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    #[test]
    fn there_is_a_page_for_each_command_and_the_agent() {
        let names: Vec<String> = pages("").into_iter().map(|p| p.file_name).collect();
        assert_eq!(names[0], "muster.1");
        assert!(names.contains(&"muster-peers.1".to_owned()), "{names:?}");
        assert!(names.contains(&"muster-disks.1".to_owned()), "{names:?}");
        assert_eq!(names.last().map(String::as_str), Some("musterd.8"));
        assert!(!names.iter().any(|n| n.contains("help")), "{names:?}");
    }

    /// Keys whose default no literal can show (the host name; unset), so
    /// the packaged file shows an example instead.
    /// Keys of a table are written `table.key`.
    const EXAMPLE_KEYS: [&str; 6] = [
        "name",
        "enrollment_passphrase_file",
        "enrollment_initiator_fingerprint",
        "lxd.socket",
        "ceph.mon_data_avail_warn",
        "ceph.osd_memory_target",
    ];

    /// The packaged file, uncommented: `[table]` headers and `key = value`
    /// lines, as (table, key, line).
    fn documented() -> Vec<(String, String, String)> {
        let mut table = String::new();
        let mut entries = Vec::new();
        for line in DEFAULT_CONFIG.lines() {
            let Some(rest) = line.strip_prefix('#').map(str::trim_start) else {
                continue;
            };
            if let Some(name) = rest.strip_prefix('[').and_then(|r| r.strip_suffix(']')) {
                table = name.to_owned();
                entries.push((String::new(), name.to_owned(), rest.to_owned()));
            } else if let Some((key, _)) = rest.split_once(" = ") {
                if !key.is_empty() && key.chars().all(|c| c.is_ascii_lowercase() || c == '_') {
                    entries.push((table.clone(), key.to_owned(), rest.to_owned()));
                }
            }
        }
        entries
    }

    fn parse(text: &str) -> Result<muster_agent::Config, String> {
        muster_agent::Config::parse(text, Path::new("packaging/musterd.toml"))
            .map_err(|e| e.to_string())
    }

    /// Uncommenting every key of the packaged musterd.toml gives what an
    /// empty file gives: it shows the real defaults.
    #[test]
    fn the_packaged_config_shows_the_defaults() {
        let mut uncommented = String::new();
        let mut examples = String::new();
        let mut table = String::new();
        for (in_table, key, line) in documented() {
            if in_table.is_empty() && line.starts_with('[') {
                table = key.clone();
                uncommented += &format!("{line}\n");
            } else if table.is_empty() && EXAMPLE_KEYS.contains(&key.as_str()) {
                examples += &format!("{line}\n");
            } else if EXAMPLE_KEYS.contains(&format!("{table}.{key}").as_str()) {
                // Parsed on its own, under its table's header.
                let text = format!("[{table}]\n{line}\n");
                parse(&text).unwrap_or_else(|e| panic!("{e}\n---\n{text}"));
            } else {
                uncommented += &format!("{line}\n");
            }
        }
        let parsed = parse(&uncommented).unwrap_or_else(|e| panic!("{e}\n---\n{uncommented}"));
        assert_eq!(parsed, muster_agent::Config::default(), "\n{uncommented}");
        // The examples are valid too.
        parse(&examples).unwrap_or_else(|e| panic!("{e}\n---\n{examples}"));
        // Nothing in the file is live.
        assert_eq!(
            parse(DEFAULT_CONFIG).unwrap(),
            muster_agent::Config::default()
        );
    }

    /// Every key musterd accepts is in the packaged file, and no other: the
    /// agent's own "unknown key" error lists the keys it accepts.
    #[test]
    fn the_packaged_config_documents_every_key() {
        let entries = documented();
        let tables: Vec<String> = entries
            .iter()
            .filter(|(t, _, line)| t.is_empty() && line.starts_with('['))
            .map(|(_, k, _)| k.clone())
            .collect();
        for table in std::iter::once(String::new()).chain(tables.iter().cloned()) {
            let probe = if table.is_empty() {
                "zz_not_a_key = 1\n".to_owned()
            } else {
                format!("[{table}]\nzz_not_a_key = 1\n")
            };
            let error = parse(&probe).unwrap_err();
            let (_, expected) = error
                .split_once("expected")
                .unwrap_or_else(|| panic!("no list of keys in: {error}"));
            let mut accepted: Vec<&str> = expected.split('`').skip(1).step_by(2).collect();
            accepted.sort_unstable();
            let mut shown: Vec<&str> = entries
                .iter()
                .filter(|(t, _, line)| *t == table && !line.starts_with('['))
                .map(|(_, k, _)| k.as_str())
                .chain(
                    tables
                        .iter()
                        .map(String::as_str)
                        .filter(|_| table.is_empty()),
                )
                .collect();
            shown.sort_unstable();
            assert_eq!(
                shown, accepted,
                "keys of [{table}] in packaging/musterd.toml"
            );
        }
    }

    #[test]
    fn dates_are_checked() {
        assert!(looks_like_a_date("2026-11-01"));
        assert!(!looks_like_a_date("2026-1-01"));
        assert!(!looks_like_a_date("Sun, 01 Nov"));
    }
}
