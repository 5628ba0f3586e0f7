//! Stage two: the file against what the members reported (their disks,
//! interfaces and LXD state), ending in the plan's [`Choices`]. Pure: the
//! caller gathers the inventory.
//!
//! Filters resolve deterministically: explicit paths are taken first; then
//! on each member the `local` filter, then the `ceph` filter, each taking
//! candidates in kernel-name order and never a device already taken.

use std::collections::BTreeSet;
use std::net::IpAddr;

use ipnet::IpNet;
use muster_disks::{Disk, DiskKind, Partition, Signature};
use muster_plan::{
    best_local_driver, membership, CephChoices, Choices, DiskRef, Driver, InstanceNetwork,
    MemberChoice, MemberObserved, Membership, Observed, Status, LOCAL_POOL,
};
use muster_proto::trust::NetInterface;

use crate::error::{Errors, PreseedErrors};
use crate::schema::{CephDisks, DiskFilter, LocalDisk, LocalDriver, Media, MemberSpec, Preseed};

/// What `muster init` knows when it resolves the file.
#[derive(Debug, Clone, Default)]
pub struct Inventory {
    /// The server running `muster init`: the initiator.
    pub local: String,
    /// The servers that can be members: this one and the trusted others.
    pub members: Vec<KnownMember>,
    /// Their disks and LXD state.
    pub observed: Observed,
}

#[derive(Debug, Clone, Default)]
pub struct KnownMember {
    pub name: String,
    /// Where its agent was reached (empty for the local server).
    pub addresses: Vec<IpAddr>,
    pub interfaces: Vec<NetInterface>,
}

impl KnownMember {
    /// Its interfaces' addresses with their prefixes, in interface order,
    /// leaving out loopback and IPv6 link-local ones (useless to peers).
    fn networks(&self) -> Vec<(&str, IpNet)> {
        let mut out = Vec::new();
        for iface in &self.interfaces {
            for a in &iface.addresses {
                let Ok(net) = a.parse::<IpNet>() else {
                    continue;
                };
                let ip = net.addr();
                let link_local =
                    matches!(ip, IpAddr::V6(v6) if v6.segments()[0] & 0xffc0 == 0xfe80);
                if !ip.is_loopback() && !link_local {
                    out.push((iface.name.as_str(), net));
                }
            }
        }
        out
    }

    fn has_address(&self, ip: IpAddr) -> bool {
        self.addresses.contains(&ip) || self.networks().iter().any(|(_, n)| n.addr() == ip)
    }
}

/// The file, resolved: the plan's input, and what the operator should read.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Resolved {
    pub choices: Choices,
    pub warnings: Vec<String>,
}

/// Checks the file against the inventory and resolves names, addresses,
/// paths and filters. Every error is reported, each with its key.
pub fn resolve(p: &Preseed, inv: &Inventory) -> Result<Resolved, PreseedErrors> {
    let mut errors = Errors::default();
    let mut warnings = Vec::new();

    // Which server each entry is.
    let mut found: Vec<Option<&KnownMember>> = Vec::new();
    for (i, spec) in p.members.iter().enumerate() {
        let known = find_member(spec, i, inv, &mut errors);
        if let Some(k) = known {
            if let Some(j) = found
                .iter()
                .position(|f| f.is_some_and(|f| f.name == k.name))
            {
                errors.add(
                    format!("members[{i}]"),
                    spec.label().as_deref(),
                    format!("{} is already members[{j}]", k.name),
                );
            }
        }
        found.push(known);
    }
    let names: Vec<&str> = found.iter().flatten().map(|k| k.name.as_str()).collect();
    let initiator = p.initiator.clone().unwrap_or_else(|| inv.local.clone());
    if initiator != inv.local {
        errors.add(
            "initiator",
            None,
            format!(
                "{initiator} is not this server ({}): run `muster init` on {initiator}",
                inv.local
            ),
        );
    } else if !names.contains(&inv.local.as_str()) {
        errors.add(
            "members",
            None,
            format!(
                "this server ({}) is not among the members; it must be, as the initiator",
                inv.local
            ),
        );
    }

    let mut members: Vec<(MemberChoice, &KnownMember)> = Vec::new();
    for (i, (spec, known)) in p.members.iter().zip(&found).enumerate() {
        let Some(known) = known else { continue };
        let key = format!("members[{i}]");
        let name = known.name.as_str();
        let Some(obs) = inv.observed.members.get(name) else {
            errors.add(
                &key,
                Some(name),
                "its disks and LXD state could not be read",
            );
            continue;
        };
        if let Membership::Foreign(reason) = membership(&inv.observed, &initiator, &names, name) {
            errors.add(
                &key,
                Some(name),
                format!("{name} is already in another LXD cluster: {reason}"),
            );
        }
        let mut choice = MemberChoice::new(name, IpAddr::from([0, 0, 0, 0]));
        let mut ctx = MemberDisks {
            key: &key,
            name,
            obs,
            observed: &inv.observed,
            taken: Vec::new(),
            errors: &mut errors,
        };
        ctx.resolve(spec, &mut choice);
        match cluster_address(p, spec, known, &key) {
            Ok(ip) => choice.address = ip,
            Err((k, message)) => errors.add(k, Some(name), message),
        }
        members.push((choice, known));
    }

    let any_ceph = members.iter().any(|(m, _)| !m.ceph_disks.is_empty());
    let ceph = any_ceph.then(|| {
        let spec = p.storage.ceph.clone().unwrap_or_default();
        CephChoices {
            cephfs: spec.cephfs,
            public_network: spec.public_network.map(|n| n.trunc()),
            cluster_network: spec.cluster_network.map(|n| n.trunc()),
        }
    });
    if let Some(public) = ceph.as_ref().and_then(|c| c.public_network) {
        for (m, known) in &mut members {
            match known
                .networks()
                .iter()
                .find(|(_, n)| public.contains(&n.addr()))
            {
                Some((_, n)) => m.ceph_address = Some(n.addr()),
                None => errors.add(
                    "storage.ceph.public_network",
                    Some(&m.name),
                    format!("{} has no address in {public}", m.name),
                ),
            }
        }
    }

    let mut members: Vec<MemberChoice> = members.into_iter().map(|(m, _)| m).collect();
    let any_disk = members.iter().any(|m| m.local_disk.is_some());
    let chosen = p.storage.local.driver.map(LocalDriver::driver);
    if let Some(driver) = chosen {
        check_local_driver(driver, p, &inv.observed, &names, &members, &mut errors);
    }
    let local_driver = chosen.unwrap_or_else(|| best_local_driver(&inv.observed, &names, any_disk));
    if any_disk && local_driver == Driver::Dir && chosen.is_none() {
        let dropped: Vec<String> = members
            .iter_mut()
            .filter_map(|m| {
                let disk = m.local_disk.take()?;
                m.wipe.retain(|w| w.path != disk.path);
                Some(format!("{} on {}", disk.path, m.name))
            })
            .collect();
        warnings.push(format!(
            "no block storage driver (zfs, lvm, btrfs) is available on every member: the local \
             pool is a dir pool on each OS disk, and {} {} left untouched",
            dropped.join(", "),
            if dropped.len() == 1 { "is" } else { "are" }
        ));
    }

    let choices = Choices {
        initiator,
        members,
        local_driver,
        network: InstanceNetwork {
            name: p.network.instances.name.clone(),
            ipv4: p.network.instances.ipv4.0.clone(),
            ipv6: p.network.instances.ipv6.0.clone(),
        },
        ceph,
    };
    errors.finish(Resolved { choices, warnings })
}

/// `storage.local.driver` works on every member, fits the disks given
/// (and no member's `disks.local: dir` contradicts it), and does not
/// contradict a `local` pool already created.
fn check_local_driver(
    driver: Driver,
    p: &Preseed,
    observed: &Observed,
    names: &[&str],
    members: &[MemberChoice],
    errors: &mut Errors,
) {
    const KEY: &str = "storage.local.driver";
    for name in names {
        let Some(obs) = observed.members.get(*name) else {
            continue;
        };
        if !obs.lxd.supports(driver) {
            let why = if driver == Driver::Lvm && obs.lxd.device_mapper == Some(false) {
                "its kernel has no device-mapper, which LXD's lvm driver needs".to_owned()
            } else {
                let works: Vec<&str> = Driver::LOCAL_PREFERENCE
                    .into_iter()
                    .chain([Driver::Dir])
                    .filter(|d| obs.lxd.supports(*d))
                    .map(Driver::as_str)
                    .collect();
                format!("its LXD offers {} only", works.join(", "))
            };
            errors.add(
                KEY,
                Some(name),
                format!("{driver} does not work on {name}: {why}"),
            );
        }
        if let Some(pool) = observed.local_pool(name) {
            if pool.status == Status::Created && pool.driver != driver.as_str() {
                errors.add(
                    KEY,
                    Some(name),
                    format!(
                        "the pool {LOCAL_POOL} exists already with driver {} and may hold \
                         instances: muster never deletes it; leave the key out (or set it to \
                         {}), or move what is on it and delete it (`lxc storage delete \
                         {LOCAL_POOL}`) first",
                        pool.driver, pool.driver
                    ),
                );
            }
        }
    }
    if driver != Driver::Dir {
        for (i, spec) in p.members.iter().enumerate() {
            if spec.disks.local == Some(LocalDisk::Dir) {
                errors.add(
                    format!("members[{i}].disks.local"),
                    spec.label().as_deref(),
                    format!(
                        "dir contradicts {KEY} ({driver}): one pool has one driver on every \
                         member"
                    ),
                );
            }
        }
    } else {
        for m in members.iter().filter(|m| m.local_disk.is_some()) {
            errors.add(
                KEY,
                Some(&m.name),
                format!(
                    "dir keeps the pool in a directory of the OS disk and takes no disk, but {} \
                     gives one (disks.local): leave one of the two out",
                    m.name
                ),
            );
        }
    }
}

fn find_member<'a>(
    spec: &MemberSpec,
    i: usize,
    inv: &'a Inventory,
    errors: &mut Errors,
) -> Option<&'a KnownMember> {
    let label = spec.label();
    let label = label.as_deref();
    let known_names = || {
        let names: Vec<&str> = inv.members.iter().map(|k| k.name.as_str()).collect();
        if names.is_empty() {
            "none".to_string()
        } else {
            names.join(", ")
        }
    };
    let known = if let Some(name) = &spec.name {
        let k = inv.members.iter().find(|k| k.name == *name);
        if k.is_none() {
            errors.add(
                format!("members[{i}].name"),
                label,
                format!(
                    "no trusted server is named {name} (known: {}); has it joined the session?",
                    known_names()
                ),
            );
        }
        k
    } else {
        let address = spec.address?;
        let k = inv.members.iter().find(|k| k.has_address(address));
        if k.is_none() {
            errors.add(
                format!("members[{i}].address"),
                label,
                format!(
                    "no trusted server has the address {address} (known: {})",
                    known_names()
                ),
            );
        }
        k
    }?;
    if let Some(address) = spec.address.filter(|a| !known.has_address(*a)) {
        errors.add(
            format!("members[{i}].address"),
            label,
            format!("{} does not have the address {address}", known.name),
        );
    }
    Some(known)
}

/// The member's address for LXD cluster traffic, or the key to blame.
fn cluster_address(
    p: &Preseed,
    spec: &MemberSpec,
    known: &KnownMember,
    key: &str,
) -> Result<IpAddr, (String, String)> {
    let name = &known.name;
    let nets = known.networks();
    let listed = || {
        let all: Vec<String> = nets.iter().map(|(i, n)| format!("{n} on {i}")).collect();
        if all.is_empty() {
            "none reported".to_string()
        } else {
            all.join(", ")
        }
    };
    if let Some(ip) = spec.network.cluster_address {
        if nets.iter().any(|(_, n)| n.addr() == ip) || known.addresses.contains(&ip) {
            return Ok(ip);
        }
        return Err((
            format!("{key}.network.cluster_address"),
            format!(
                "{name} does not have the address {ip} (it has: {})",
                listed()
            ),
        ));
    }
    let (iface, iface_key) = match (
        &spec.network.cluster_interface,
        &p.network.cluster_interface,
    ) {
        (Some(i), _) => (Some(i), format!("{key}.network.cluster_interface")),
        (None, Some(i)) => (Some(i), "network.cluster_interface".to_string()),
        (None, None) => (None, String::new()),
    };
    if let Some(iface) = iface {
        let Some(found) = known.interfaces.iter().find(|i| i.name == *iface) else {
            let names: Vec<&str> = known.interfaces.iter().map(|i| i.name.as_str()).collect();
            return Err((
                iface_key,
                format!(
                    "{name} has no interface {iface} (it has: {})",
                    names.join(", ")
                ),
            ));
        };
        return nets
            .iter()
            .find(|(i, _)| *i == found.name)
            .map(|(_, n)| n.addr())
            .ok_or((
                iface_key,
                format!("{iface} on {name} has no usable address"),
            ));
    }
    if let Some(subnet) = p.network.cluster_subnet {
        return nets
            .iter()
            .find(|(_, n)| subnet.contains(&n.addr()))
            .map(|(_, n)| n.addr())
            .ok_or((
                "network.cluster_subnet".to_string(),
                format!("{name} has no address in {subnet} (it has: {})", listed()),
            ));
    }
    if let Some(ip) = spec.address.or_else(|| known.addresses.first().copied()) {
        return Ok(ip);
    }
    // This server: its only IPv4 address, when it has just one.
    let v4: BTreeSet<IpAddr> = nets
        .iter()
        .map(|(_, n)| n.addr())
        .filter(IpAddr::is_ipv4)
        .collect();
    if let [only] = Vec::from_iter(v4).as_slice() {
        return Ok(*only);
    }
    Err((
        key.to_string(),
        format!(
            "which address of {name} carries cluster traffic? Give network.cluster_subnet, \
             network.cluster_interface or this member's address (it has: {})",
            listed()
        ),
    ))
}

/// A whole disk or a partition found in a member's inventory.
#[derive(Clone, Copy)]
enum Device<'a> {
    Disk(&'a Disk),
    Part(&'a Disk, &'a Partition),
}

impl<'a> Device<'a> {
    fn find(obs: &'a MemberObserved, path: &str) -> Option<Device<'a>> {
        let named = |p: &str, by_id: &[String]| p == path || by_id.iter().any(|b| b == path);
        obs.disks.iter().find_map(|d| {
            if named(&d.path, &d.by_id) {
                return Some(Device::Disk(d));
            }
            d.partitions
                .iter()
                .find(|p| named(&p.path, &p.by_id))
                .map(|p| Device::Part(d, p))
        })
    }

    fn path(&self) -> &'a str {
        match self {
            Device::Disk(d) => &d.path,
            Device::Part(_, p) => &p.path,
        }
    }

    /// The disk it is on (itself for a whole disk).
    fn disk(&self) -> &'a Disk {
        match self {
            Device::Disk(d) | Device::Part(d, _) => d,
        }
    }

    /// Whether the two share blocks: the same device, or a disk and one of
    /// its partitions.
    fn overlaps(&self, other: &Device<'_>) -> bool {
        match (self, other) {
            (Device::Part(_, a), Device::Part(_, b)) => a.path == b.path,
            _ => self.disk().path == other.disk().path,
        }
    }

    /// The reference handed to the plan: the by-id path the file used, or
    /// the device's first one.
    fn to_ref(self, written: Option<&str>) -> DiskRef {
        let by_id = match self {
            Device::Disk(d) => &d.by_id,
            Device::Part(_, p) => &p.by_id,
        };
        let stable = written
            .filter(|w| by_id.iter().any(|b| b == w))
            .or(by_id.first().map(String::as_str));
        DiskRef {
            path: self.path().to_owned(),
            by_id: stable.map(str::to_owned),
        }
    }

    fn signatures(&self) -> &'a [Signature] {
        match self {
            Device::Disk(d) => &d.signatures,
            Device::Part(_, p) => &p.signatures,
        }
    }

    /// What stops using it: `Ok` when nothing does, `Err((reasons, true))`
    /// when a wipe would clear it (only signatures and a partition table are
    /// in the way), `Err((reasons, false))` when it is in use or unfit.
    fn fitness(&self) -> Result<(), (Vec<String>, bool)> {
        let (reasons, erasable, in_use) = match self {
            Device::Disk(d) => {
                let in_use: Vec<String> = d
                    .partitions
                    .iter()
                    .flat_map(|p| {
                        let mounted = (!p.mountpoints.is_empty()).then(|| {
                            format!("{} is mounted at {}", p.name, p.mountpoints.join(", "))
                        });
                        let held = (!p.holders.is_empty())
                            .then(|| format!("{} is held by {}", p.name, p.holders.join(", ")));
                        mounted.into_iter().chain(held)
                    })
                    .collect();
                let erasable = d.signatures.len() + usize::from(!d.partitions.is_empty());
                (d.eligibility.reasons(), erasable, in_use)
            }
            Device::Part(_, p) => (p.eligibility.reasons(), p.signatures.len(), Vec::new()),
        };
        if reasons.is_empty() && in_use.is_empty() {
            return Ok(());
        }
        // The eligibility judge gives one reason per signature and one for
        // having partitions; any other reason is something a wipe leaves.
        let wipe_helps = in_use.is_empty() && reasons.len() <= erasable;
        let mut all = reasons.to_vec();
        all.extend(in_use);
        Err((all, wipe_helps))
    }
}

/// Resolving one member's disks.
struct MemberDisks<'a, 'e> {
    key: &'a str,
    name: &'a str,
    obs: &'a MemberObserved,
    observed: &'a Observed,
    taken: Vec<Device<'a>>,
    errors: &'e mut Errors,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Role {
    Local,
    Ceph,
}

impl<'a> MemberDisks<'a, '_> {
    fn err(&mut self, key: String, message: String) {
        self.errors.add(key, Some(self.name), message);
    }

    fn lookup(&mut self, key: String, path: &str) -> Option<Device<'a>> {
        let found = Device::find(self.obs, path);
        if found.is_none() {
            let have: Vec<&str> = self.obs.disks.iter().map(|d| d.path.as_str()).collect();
            let message = format!(
                "{} has no disk or partition {path} (its disks: {})",
                self.name,
                if have.is_empty() {
                    "none".to_string()
                } else {
                    have.join(", ")
                }
            );
            self.err(key, message);
        }
        found
    }

    fn resolve(&mut self, spec: &'a MemberSpec, choice: &mut MemberChoice) {
        let d = &spec.disks;
        let mut wiped: Vec<(String, Device<'a>, &'a str)> = Vec::new();
        for (i, w) in d.wipe.iter().enumerate() {
            let key = format!("{}.disks.wipe[{i}]", self.key);
            if let Some(dev) = self.lookup(key.clone(), w) {
                wiped.push((key, dev, w));
            }
        }
        let wipe_paths: Vec<&str> = wiped.iter().map(|(_, dev, _)| dev.path()).collect();
        let wipe_key = format!("{}.disks.wipe", self.key);

        // Paths first, so filters never take a disk named elsewhere.
        let mut local = None;
        if let Some(LocalDisk::Path(p)) = &d.local {
            let key = format!("{}.disks.local", self.key);
            if let Some(dev) = self.lookup(key.clone(), p) {
                local = self.take(key, dev, p, Role::Local, &wipe_paths, &wipe_key);
            }
        }
        let mut ceph = Vec::new();
        if let Some(CephDisks::Paths(paths)) = &d.ceph {
            for (i, p) in paths.iter().enumerate() {
                let key = format!("{}.disks.ceph[{i}]", self.key);
                if let Some(dev) = self.lookup(key.clone(), p) {
                    ceph.extend(self.take(key, dev, p, Role::Ceph, &wipe_paths, &wipe_key));
                }
            }
        }
        if let Some(LocalDisk::Filter(f)) = &d.local {
            let key = format!("{}.disks.local", self.key);
            local = self
                .filter(key, f, Role::Local, &wipe_paths)
                .into_iter()
                .next();
        }
        if let Some(CephDisks::Filter(f)) = &d.ceph {
            let key = format!("{}.disks.ceph", self.key);
            ceph.extend(self.filter(key, f, Role::Ceph, &wipe_paths));
        }
        for (key, dev, written) in wiped {
            if self.taken.iter().any(|t| t.path() == dev.path()) {
                choice.wipe.push(dev.to_ref(Some(written)));
            } else {
                let message = format!(
                    "{written} is not chosen on {} (disks.local or disks.ceph): muster only wipes chosen disks",
                    self.name
                );
                self.err(key, message);
            }
        }
        choice.local_disk = local;
        choice.ceph_disks = ceph;
    }

    /// Whether `dev` holds what muster put there in an earlier run.
    fn ours(&self, dev: &Device<'_>, role: Role) -> bool {
        match role {
            Role::Ceph => self.observed.is_osd(self.name, &dev.to_ref(None)),
            Role::Local => {
                let mark = match self
                    .observed
                    .local_pool(self.name)
                    .filter(|_| self.observed.local_pool_created(self.name))
                    .and_then(|p| Driver::from_lxd(&p.driver))
                {
                    Some(Driver::Zfs) => Signature::ZfsMember,
                    Some(Driver::Lvm) => Signature::LvmPv,
                    Some(Driver::Btrfs) => Signature::Btrfs,
                    _ => return false,
                };
                dev.signatures().contains(&mark)
            }
        }
    }

    /// Takes an explicitly named device, if nothing forbids it.
    fn take(
        &mut self,
        key: String,
        dev: Device<'a>,
        written: &str,
        role: Role,
        wiped: &[&str],
        wipe_key: &str,
    ) -> Option<DiskRef> {
        if let Some(other) = self.taken.iter().find(|t| t.overlaps(&dev)) {
            let message = if other.path() == dev.path() {
                format!("{written} is chosen twice on {}", self.name)
            } else {
                format!(
                    "{written} shares blocks with {}, also chosen on {}",
                    other.path(),
                    self.name
                )
            };
            self.err(key, message);
            return None;
        }
        if let Err((reasons, wipe_helps)) = dev.fitness() {
            if !self.ours(&dev, role) {
                let what = reasons.join(", ");
                if !wipe_helps {
                    let message = format!("{written} on {} cannot be used: {what}", self.name);
                    self.err(key, message);
                    return None;
                }
                if !wiped.contains(&dev.path()) {
                    let message = format!(
                        "{written} on {} is not empty ({what}); list it under {wipe_key} to erase it",
                        self.name
                    );
                    self.err(key, message);
                    return None;
                }
            }
        }
        self.taken.push(dev);
        Some(dev.to_ref(Some(written)))
    }

    /// Whole disks matching a filter, in kernel-name order, those muster
    /// already uses for this role first (a resumed run picks them again).
    fn filter(&mut self, key: String, f: &DiskFilter, role: Role, wiped: &[&str]) -> Vec<DiskRef> {
        let mut candidates: Vec<(bool, Device<'a>)> = Vec::new();
        for disk in &self.obs.disks {
            let dev = Device::Disk(disk);
            if !matches!(disk.kind, DiskKind::Disk | DiskKind::Loop)
                || !matches_filter(disk, f)
                || self.taken.iter().any(|t| t.overlaps(&dev))
            {
                continue;
            }
            let ours = self.ours(&dev, role);
            let usable = match dev.fitness() {
                Ok(()) => true,
                Err((_, wipe_helps)) => ours || (wipe_helps && wiped.contains(&dev.path())),
            };
            if usable {
                candidates.push((!ours, dev));
            }
        }
        candidates.sort_by_key(|(not_ours, dev)| (*not_ours, dev.disk().name.clone()));
        let limit = match role {
            Role::Local => 1,
            Role::Ceph => f.limit.unwrap_or(usize::MAX),
        };
        let picked: Vec<Device<'a>> = candidates.into_iter().take(limit).map(|(_, d)| d).collect();
        if picked.is_empty() {
            let message = format!(
                "no empty disk on {} matches {} (its disks: {})",
                self.name,
                describe_filter(f),
                self.describe_disks()
            );
            self.err(key, message);
        }
        self.taken.extend(picked.iter().copied());
        picked.into_iter().map(|d| d.to_ref(None)).collect()
    }

    fn describe_disks(&self) -> String {
        if self.obs.disks.is_empty() {
            return "none".into();
        }
        let all: Vec<String> = self
            .obs
            .disks
            .iter()
            .map(|d| {
                let mut s = format!(
                    "{} {} {}",
                    d.path,
                    muster_disks::human_size(d.size_bytes),
                    if d.rotational { "hdd" } else { "ssd" }
                );
                if let Some(model) = &d.model {
                    s.push_str(&format!(" {model:?}"));
                }
                if self.taken.iter().any(|t| t.disk().path == d.path) {
                    s.push_str(" (chosen already)");
                } else if !d.eligibility.is_eligible() {
                    s.push_str(&format!(" ({})", d.eligibility.reasons().join(", ")));
                }
                s
            })
            .collect();
        all.join("; ")
    }
}

fn matches_filter(disk: &Disk, f: &DiskFilter) -> bool {
    f.min_size.is_none_or(|min| disk.size_bytes >= min.0)
        && f.max_size.is_none_or(|max| disk.size_bytes <= max.0)
        && f.media.is_none_or(|m| (m == Media::Hdd) == disk.rotational)
        && f.model
            .as_ref()
            .is_none_or(|g| disk.model.as_deref().is_some_and(|m| g.matches(m)))
}

fn describe_filter(f: &DiskFilter) -> String {
    let mut parts = Vec::new();
    if let Some(min) = f.min_size {
        parts.push(format!("min_size {min}"));
    }
    if let Some(max) = f.max_size {
        parts.push(format!("max_size {max}"));
    }
    if let Some(m) = f.media {
        parts.push(format!(
            "type {}",
            if m == Media::Ssd { "ssd" } else { "hdd" }
        ));
    }
    if let Some(g) = &f.model {
        parts.push(format!("model {:?}", g.text));
    }
    if parts.is_empty() {
        "the filter".into()
    } else {
        format!("({})", parts.join(", "))
    }
}
