//! The muster lab: a LAN of virtual servers on one machine, for tests and
//! the demo.
//!
//! A lab is a "switch" network namespace holding a bridge, one namespace per
//! server and one for a client machine, each joined to the bridge by a veth
//! pair; sparse-file loop devices as each server's spare disks; and one
//! `musterd` per server. Everything is named with the lab's prefix and
//! recorded in `/run/muster-lab/PREFIX.json` before it is created, so
//! `muster-lab down` can clean up after a process that died.
//!
//! Network safety: nothing of the lab lives in the host namespace, the lab
//! namespaces have no route out and no IPv6, and while the lab lives the
//! host has a blackhole route for the lab subnet 10.231.K.0/24: a connection
//! from the host to a lab address fails at once (EINVAL) instead of leaving
//! through the host's default route. Talk to lab machines from inside the
//! lab: [`Lab::exec`], [`Lab::spawn`], [`Lab::in_netns`]; unix sockets (the
//! agents') work from the host.
//!
//! With [`LabSpec::ceph`] (`muster-lab up --ceph`), each server also gets a
//! Ceph directory, `DIR/sN/ceph`, named in its agent's config (`[ceph]`
//! with `root` there and `daemons = "agent"`: the lab has no systemd, so
//! the agent starts the Ceph daemons itself). `ip netns exec NS` binds each
//! entry of `/etc/netns/NS/` over the same name in /etc, so the lab links
//! `/etc/netns/NS/ceph` to that directory: the agent, LXD's ceph driver and
//! [`Lab::exec`] all find it as /etc/ceph (a [`Lab::in_netns`] thread does
//! not: it changes network namespace only). The host needs /etc/ceph for
//! the bind (package ceph-common). The teardown ends the Ceph daemons with
//! the rest of what runs in the lab's namespaces and removes the links.
//!
//! ```no_run
//! use muster_lab::{Lab, LabSpec, Signal, Target};
//!
//! # fn main() -> Result<(), muster_lab::LabError> {
//! let lab = Lab::up(LabSpec { servers: 3, disks_per_server: 2, ..LabSpec::default() })?;
//! // `muster` comes from the target directory; MUSTER_SOCKET is s1's agent.
//! let out = lab.exec(Target::Server(1), ["muster", "disks", "--json"])?;
//! let peers = lab.spawn(Target::Client, ["muster", "peers", "--json", "--timeout", "5"])?;
//! let status = lab.stop_agent(2, Signal::SIGTERM)?;
//! lab.start_agent(2)?;
//! # drop((out, peers, status));
//! lab.down()?; // also done when `lab` is dropped, or on SIGINT/SIGTERM
//! # Ok(())
//! # }
//! ```

mod error;
pub mod image;
mod lab;
pub mod plan;
mod signals;
pub mod state;
mod sys;

pub use error::LabError;
pub use lab::{
    bin_dirs, bin_path, require_root, run_in_netns, Client, Lab, LabRecord, LabSpec, Owner, Server,
    DEFAULT_DISK_SIZE,
};
pub use nix::sys::signal::Signal;
pub use plan::{Daemon, Target};
pub use sys::run_host;
