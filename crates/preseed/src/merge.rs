//! The preseed of a formed cluster, kept by the server that formed it, and
//! what `init`, `muster add` and `muster remove` do to it: a run's preseed
//! kept with the members it leaves out, members added from a file of new
//! members, a removed member taken out. The kept document has
//! no `session` (a passphrase is never kept); an addition brings its own.
//!
//! The documents are edited as YAML values, so the operator's settings
//! come back as written (sizes, globs, addresses), never re-rendered from
//! their resolved form. Pure: no I/O.

use serde_norway::{Mapping, Value};

use crate::error::{PreseedError, PreseedErrors};
use crate::schema::Preseed;

/// The keys a file of new members may hold: the cluster-wide settings are
/// the formed cluster's.
const ADDITION_KEYS: [&str; 2] = ["session", "members"];

/// `text` as the formed cluster's preseed to keep: without its `session`,
/// and with the members of the copy kept before (`kept`) that `text` does
/// not name, by name or address, after its own. An init rerun with the
/// preseed the cluster was first formed with does not name the members
/// `muster add` brought, and they are members still: only `muster remove`
/// takes one out ([`remove_member`]). The cluster-wide settings, and the
/// settings of a member both name, are `text`'s: the latest choice.
pub fn to_keep(text: &str, kept: Option<&str>) -> Result<String, PreseedErrors> {
    crate::parse(text)?;
    let mut doc = mapping(text)?;
    doc.remove("session");
    if let Some(kept) = kept {
        let mut members = take_members(&mut doc);
        let unnamed: Vec<Value> = take_members(&mut mapping(kept)?)
            .into_iter()
            .filter(|old| !members.iter().any(|new| same_member(old, new)))
            .collect();
        members.extend(unnamed);
        doc.insert("members".into(), Value::Sequence(members));
    }
    let text = render(doc)?;
    crate::parse(&text)?;
    Ok(text)
}

/// The document's `members` list, taken out of it (empty without one).
fn take_members(doc: &mut Mapping) -> Vec<Value> {
    match doc.remove("members") {
        Some(Value::Sequence(list)) => list,
        _ => Vec::new(),
    }
}

/// The keys that tell one server from another in a `members` entry.
const MEMBER_KEYS: [&str; 2] = ["name", "address"];

/// The text `key` has in a `members` entry.
fn field<'a>(member: &'a Value, key: &str) -> Option<&'a str> {
    member.get(key).and_then(Value::as_str)
}

/// Whether `a` gives `key` a value and `b` the same one.
fn same_on(a: &Value, b: &Value, key: &str) -> bool {
    field(a, key).is_some_and(|value| field(b, key) == Some(value))
}

/// Whether two `members` entries name one server: the same name or the
/// same address.
fn same_member(a: &Value, b: &Value) -> bool {
    MEMBER_KEYS.iter().any(|key| same_on(a, b, key))
}

/// The kept preseed `kept` with the members of `addition` appended and
/// `addition`'s `session` (if any) as the session that pairs them. Refuses
/// an addition with other keys, without members, or naming a member (by
/// name or address) the cluster already has.
pub fn add_members(kept: &str, addition: &str) -> Result<String, PreseedErrors> {
    let mut doc = mapping(kept)?;
    let mut new = mapping(addition)?;
    let mut errors = foreign_keys(&new);
    let added = match new.remove("members") {
        Some(Value::Sequence(list)) if !list.is_empty() => list,
        _ => {
            errors.push(PreseedError::new(
                "members",
                "list the servers to add (at least one)",
            ));
            Vec::new()
        }
    };
    let mut members = take_members(&mut doc);
    for (i, member) in added.iter().enumerate() {
        for key in MEMBER_KEYS {
            let Some(value) = field(member, key) else {
                continue;
            };
            if members.iter().any(|m| same_on(member, m, key)) {
                errors.push(PreseedError::new(
                    format!("members[{i}].{key}"),
                    format!(
                        "{value} is already a member of the cluster (`muster remove` it first \
                         to replace it)"
                    ),
                ));
            }
        }
    }
    if !errors.is_empty() {
        return Err(PreseedErrors(errors));
    }
    members.extend(added);
    doc.insert("members".into(), Value::Sequence(members));
    doc.remove("session");
    if let Some(session) = new.remove("session") {
        doc.insert("session".into(), session);
    }
    let text = render(doc)?;
    // The whole document must still be a preseed (a disk chosen twice
    // across old and new members, say).
    crate::parse(&text)?;
    Ok(text)
}

/// The kept preseed without the member named `name` (after `muster remove`).
pub fn remove_member(kept: &str, name: &str) -> Result<String, PreseedErrors> {
    let mut doc = mapping(kept)?;
    if let Some(Value::Sequence(members)) = doc.get_mut("members") {
        members.retain(|m| m.get("name").and_then(Value::as_str) != Some(name));
    }
    render(doc)
}

/// A file of new members on its own, as `muster add` checks it before
/// sending it: only `members` and `session`, and a valid preseed.
pub fn parse_addition(text: &str) -> Result<Preseed, PreseedErrors> {
    let errors = foreign_keys(&mapping(text)?);
    if !errors.is_empty() {
        return Err(PreseedErrors(errors));
    }
    crate::parse(text)
}

fn foreign_keys(addition: &Mapping) -> Vec<PreseedError> {
    addition
        .keys()
        .map(|key| key.as_str().unwrap_or("?"))
        .filter(|key| !ADDITION_KEYS.contains(key))
        .map(|key| {
            PreseedError::new(
                key,
                "muster add takes only `members` (the new servers) and `session`: the \
                 cluster-wide settings are those the cluster was formed with",
            )
        })
        .collect()
}

fn mapping(text: &str) -> Result<Mapping, PreseedErrors> {
    // The same bounds as `parse`: the text comes from the operator's file.
    crate::bounds::check(text).map_err(crate::parse::refused)?;
    match serde_norway::from_str(text) {
        Ok(Value::Mapping(m)) => Ok(m),
        Ok(_) => Err(one("", "the document is not a mapping of keys".into())),
        Err(e) => Err(one("", format!("not valid YAML: {e}"))),
    }
}

fn render(doc: Mapping) -> Result<String, PreseedErrors> {
    serde_norway::to_string(&Value::Mapping(doc))
        .map_err(|e| one("", format!("cannot write the preseed: {e}")))
}

fn one(key: &str, message: String) -> PreseedErrors {
    PreseedErrors(vec![PreseedError::new(key, message)])
}

#[cfg(test)]
mod tests {
    use super::*;

    const FORMED: &str = "\
session:
  passphrase: secret words that stay out
initiator: s1
members:
  - name: s1
    disks:
      ceph: [/dev/sdb]
  - name: s2
    address: 10.0.0.12
    disks:
      ceph: [/dev/sdb]
storage:
  local:
    driver: dir
";

    fn names(text: &str) -> Vec<String> {
        crate::parse(text)
            .unwrap()
            .members
            .iter()
            .filter_map(|m| m.name.clone())
            .collect()
    }

    #[test]
    fn the_kept_preseed_has_no_session() {
        let kept = to_keep(FORMED, None).unwrap();
        assert!(!kept.contains("secret"), "{kept}");
        assert!(!kept.contains("session"), "{kept}");
        assert_eq!(names(&kept), ["s1", "s2"]);
        assert!(kept.contains("driver: dir"), "{kept}");
    }

    #[test]
    fn new_members_are_appended_with_the_additions_session() {
        let kept = to_keep(FORMED, None).unwrap();
        let added = add_members(
            &kept,
            "session:\n  enrollment: true\n  passphrase_file: /etc/muster/p\nmembers:\n  - name: s3\n    disks:\n      ceph: [/dev/sdc]\n",
        )
        .unwrap();
        assert_eq!(names(&added), ["s1", "s2", "s3"]);
        let parsed = crate::parse(&added).unwrap();
        assert!(parsed.session.enrollment);
        assert_eq!(parsed.initiator.as_deref(), Some("s1"));
    }

    #[test]
    fn an_addition_with_cluster_settings_or_known_members_is_refused() {
        let kept = to_keep(FORMED, None).unwrap();
        let err = add_members(
            &kept,
            "storage:\n  local:\n    driver: zfs\nmembers:\n  - name: s2\n  - address: 10.0.0.12\n",
        )
        .unwrap_err()
        .to_string();
        assert!(err.contains("storage"), "{err}");
        assert!(err.contains("s2 is already a member"), "{err}");
        assert!(err.contains("10.0.0.12 is already a member"), "{err}");
        let err = add_members(&kept, "session: {}\n").unwrap_err().to_string();
        assert!(err.contains("at least one"), "{err}");
        let err =
            parse_addition("network:\n  cluster_subnet: 10.0.0.0/24\nmembers:\n  - name: s3\n")
                .unwrap_err()
                .to_string();
        assert!(err.contains("network"), "{err}");
        assert!(parse_addition("members:\n  - name: s3\n").is_ok());
    }

    #[test]
    fn a_new_member_may_be_given_by_its_address_alone() {
        let kept = to_keep(FORMED, None).unwrap();
        let added = add_members(&kept, "members:\n  - address: 10.0.0.14\n").unwrap();
        let parsed = crate::parse(&added).unwrap();
        let address = "10.0.0.14".parse().ok();
        assert!(
            parsed
                .members
                .iter()
                .any(|m| m.name.is_none() && m.address == address),
            "{added}"
        );
        assert_eq!(parsed.members.len(), 3, "{added}");
    }

    #[test]
    fn an_addition_is_bounded_as_a_preseed_is() {
        let kept = to_keep(FORMED, None).unwrap();
        let err = add_members(&kept, &crate::tests::billion_laughs())
            .unwrap_err()
            .to_string();
        assert!(err.contains("anchors and aliases"), "{err}");
    }

    #[test]
    fn a_rerun_with_the_first_preseed_keeps_the_added_members() {
        let first = to_keep(FORMED, None).unwrap();
        let added =
            add_members(&first, "members:\n  - name: s3\n    address: 10.0.0.13\n").unwrap();
        let kept = to_keep(FORMED, Some(&added)).unwrap();
        assert_eq!(names(&kept), ["s1", "s2", "s3"]);
        assert!(!kept.contains("secret"), "{kept}");
        // A member both name, by name or by address alone, is the rerun's
        // and is kept once; so are the cluster-wide settings.
        let rerun = "\
members:
  - name: s1
    disks:
      ceph: [/dev/sdc]
  - address: 10.0.0.12
storage:
  local:
    driver: zfs
";
        let kept = to_keep(rerun, Some(&kept)).unwrap();
        let parsed = crate::parse(&kept).unwrap();
        assert_eq!(parsed.members.len(), 3, "{kept}");
        assert_eq!(names(&kept), ["s1", "s3"]);
        assert!(
            kept.contains("/dev/sdc") && !kept.contains("/dev/sdb"),
            "{kept}"
        );
        assert!(
            kept.contains("driver: zfs") && !kept.contains("dir"),
            "{kept}"
        );
        // Only a removal takes a member out.
        let removed = remove_member(&kept, "s3").unwrap();
        assert_eq!(
            names(&to_keep(FORMED, Some(&removed)).unwrap()),
            ["s1", "s2"]
        );
    }

    #[test]
    fn a_removed_member_leaves_the_kept_preseed() {
        let kept = remove_member(&to_keep(FORMED, None).unwrap(), "s2").unwrap();
        assert_eq!(names(&kept), ["s1"]);
        let again = add_members(&kept, "members:\n  - name: s2\n").unwrap();
        assert_eq!(names(&again), ["s1", "s2"]);
    }
}
