#!/usr/bin/env python3
"""The VM lab's tests: muster's .deb on real VMs under systemd, forming LXD
and Ceph (daemons as systemd units, OSDs on virtio disks, RBD and CephFS
through the guests' kernel), a member's reboot, removal of the package.

Run by tests/vm-run, which builds the .deb, the image and the container
image first:

    tests/vmlab/suite.py --deb DEB --image DIR --container TARBALL [--full] [--keep]

The tests run in order on one lab and build on each other (the cluster the
init test forms is the one the volume, reboot and removal tests use); a
test whose predecessor failed is reported as not run. Prints each test's
time and the lab's figures, then "vm-run: N passed, N failed, N skipped".
"""

import argparse
import json
import signal
import sys
import time
import traceback
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import vmlab  # noqa: E402

ENROLLMENT = "vm lab enrollment passphrase, not a secret"
# The instances' bridge: beside the lab's LAN, inside the VMs.
INSTANCE_BRIDGE = "10.233.0.1/24"


class Failure(Exception):
    pass


def check(cond, what, detail=""):
    if not cond:
        raise Failure(f"{what}{': ' + str(detail) if detail else ''}")


def wait_for(what, probe, timeout, every=5):
    """Polls probe() until it returns a true value; that value. Fails with
    the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        last = probe()
        if last:
            return last
        if time.monotonic() > deadline:
            raise Failure(f"{what}: not after {timeout} s")
        time.sleep(every)


class Suite:
    def __init__(self, args):
        self.args = args
        self.figures = []
        self.lab = None

    def figure(self, name, seconds):
        self.figures.append((name, seconds))
        print(f"  figure: {name}: {seconds:.0f} s", flush=True)

    def vm(self, n):
        return self.lab.vm(n)

    @property
    def ceph(self):
        return self.args.full

    # The tests, in the order they run.

    def test_boot(self):
        """The VMs boot to multi-user from overlays on the image."""
        if self.args.lab:
            self.lab = vmlab.Lab.load(self.args.lab)
            return f"on the kept lab {self.args.lab}"
        servers, disks = (3, 1) if self.ceph else (2, 0)
        self.lab = vmlab.Lab.create(servers, disks, self.args.image)
        print(f"  lab {self.lab.prefix}: {servers} VMs on {self.lab.subnet}, {disks} disk(s) each", flush=True)
        took = self.lab.wait_booted()
        for name, secs in sorted(took.items()):
            self.figure(f"boot {name} (of {servers} at once)", secs)

    def test_deb_under_systemd(self):
        """apt installs the .deb; its maintainer scripts enable and start
        musterd, which systemd reports active after its READY=1."""
        start = time.monotonic()
        outs = self.lab.each(lambda vm: vm.install_deb(self.args.deb))
        self.figure(f"apt install muster on {len(outs)} VMs at once", time.monotonic() - start)
        for vm, out in zip(self.lab.vms, outs):
            check("Setting up muster" in out, f"{vm.name}: apt did not set muster up", out)
        for vm in self.lab.vms:
            props = show(vm, "musterd.service", "Type", "UnitFileState", "NRestarts")
            check(props["Type"] == "notify", f"{vm.name}: musterd's unit type", props)
            check(is_active(vm, "musterd"), f"{vm.name}: systemctl is-active musterd", props)
            check(props["UnitFileState"] == "enabled", f"{vm.name}: musterd is enabled", props)
            check(props["NRestarts"] == "0", f"{vm.name}: musterd restarted", props)
            mode = vm.sh("stat -c '%a %U' /var/lib/muster").strip()
            check(mode == "700 root", f"{vm.name}: /var/lib/muster", mode)
            sock = vm.exec(["muster", "members"])
            check(sock.ok, f"{vm.name}: the CLI reaches musterd's socket", sock)

    def test_mdns_across_vms(self):
        """vm1 finds the other VMs' agents over mDNS on the lab's bridge."""
        out = vm_json_lines(self.vm(1), ["muster", "peers", "--json", "--timeout", "8"])
        # An agent may be found before its address records arrive (an
        # "updated" event then brings them): its last event counts.
        found = {}
        for e in out:
            if e.get("event") == "gone":
                found.pop(e.get("name"), None)
            else:
                found[e.get("name")] = e
        for vm in self.lab.vms[1:]:
            check(vm.name in found, f"vm1 did not find {vm.name} over mDNS", out)
            check(vm.address in json.dumps(found[vm.name]), f"{vm.name}'s advertised addresses", found[vm.name])

    def test_init(self):
        """muster init --preseed, zero-touch, forms the LXD cluster (the
        deb's LXD, socket-activated); with --full also Ceph, its daemons as
        the packages' systemd units, and CephFS, to HEALTH_OK. Without Ceph
        (whose monitors refuse clocks apart), vm2's clock lags vm1's by 3 s:
        its join waits until the cluster's new certificate is valid there."""
        for vm in self.lab.vms[1:]:
            enroll(vm)
        lagging = None if self.ceph else self.vm(2)
        if lagging:
            lagging.set_clock_behind(3_000_000_000)
        passphrase = "/root/session.passphrase"
        self.vm(1).put(passphrase, ENROLLMENT + "\n", mode=0o600)
        members = ""
        for vm in self.lab.vms:
            members += f"  - name: {vm.name}\n    disks:\n      local: dir\n"
            if self.ceph:
                members += f"      ceph: [{', '.join(vm.disk_ids())}]\n"
        preseed = (
            "# tests/vmlab/suite.py\n"
            f"session:\n  passphrase_file: {passphrase}\n  enrollment: true\n  timeout: 10m\n"
            f"initiator: vm1\nmembers:\n{members}"
            + ("storage:\n  ceph:\n    cephfs: true\n" if self.ceph else "")
            + f"network:\n  cluster_interface: eth0\n  instances: {{name: lxdbr0, ipv4: {INSTANCE_BRIDGE}, ipv6: none}}\n"
        )
        self.vm(1).put("/root/cluster.yaml", preseed)
        start = time.monotonic()
        r = self.vm(1).exec(["muster", "init", "--preseed", "/root/cluster.yaml"], timeout=7200)
        what = "LXD + Ceph + CephFS" if self.ceph else "LXD"
        self.figure(f"muster init --preseed, {what} on {len(self.lab.vms)} VMs", time.monotonic() - start)
        print(indent(r.stdout), flush=True)
        check(r.ok, "muster init failed", r)
        if lagging:
            journal = self.vm(1).exec(["journalctl", "-b", "-u", "musterd", "--no-pager"]).stdout
            waited = [line for line in journal.splitlines() if "clock lags ours" in line]
            check(any(lagging.name in line for line in waited), f"vm1 waited for {lagging.name}'s clock", waited)
            lagging.sync_clock()
        if self.ceph:
            start = time.monotonic()
            wait_health_ok(self.vm(1), 900)
            self.figure("init's end to HEALTH_OK", time.monotonic() - start)
            for vm in self.lab.vms:
                osds = osds_of(vm)
                check(len(osds) == len(vm.disks), f"{vm.name}: one OSD per disk", osds)
                for unit in ceph_units(vm):
                    props = show(vm, unit, "ActiveState", "UnitFileState")
                    check(props == {"ActiveState": "active", "UnitFileState": "enabled"}, f"{vm.name}: {unit}", props)
        check_all_online(self.vm(1), len(self.lab.vms))

    def test_remote_volume_and_instance(self):
        """(--full) A custom volume and an instance on the `remote` pool: RBD
        through the guests' kernel, which the namespace lab does not have;
        a volume on `remote-fs`, mounted by the kernel's ceph."""
        if not self.ceph:
            return "needs --full"
        v1 = self.vm(1)
        start = time.monotonic()
        v1.sh("lxc storage volume create remote v1 size=256MiB", timeout=600)
        images = v1.sh("rbd ls lxd_remote", timeout=120)
        check("custom_default_v1" in images, "RBD image of v1", images)
        v1.put("/root/busybox.tar.gz", Path(self.args.container).read_bytes())
        v1.sh("lxc image import /root/busybox.tar.gz --alias muster-busybox", timeout=900)
        # On the initiator: under emulation LXD 5.0's heartbeats time out,
        # and an instance started on another member failed with "Missing
        # event connection with target cluster member".
        v1.sh("lxc launch muster-busybox c1 --storage remote --target vm1", timeout=900)
        v1.sh("lxc storage volume attach remote v1 c1 /data", timeout=600)
        v1.sh("lxc exec c1 -- sh -c 'echo written-on-rbd > /data/f && sync'", timeout=300)
        state = v1.sh("lxc list c1 --format csv -c s").strip()
        check(state == "RUNNING", "c1 on remote", state)
        mapped = v1.sh("rbd showmapped", timeout=120)
        check("lxd_remote" in mapped, "vm1 maps c1's RBD images with the kernel's rbd", mapped)
        self.figure("volume, image import, launch and attach on remote", time.monotonic() - start)
        start = time.monotonic()
        v1.sh("lxc storage volume create remote-fs f1", timeout=600)
        v1.sh("lxc storage volume attach remote-fs f1 c1 /shared", timeout=600)
        v1.sh("lxc exec c1 -- sh -c 'echo on-cephfs > /shared/f'", timeout=300)
        mounts = v1.sh("cat /proc/mounts")
        check(" ceph " in mounts, "vm1 mounts CephFS with the kernel's ceph", mounts)
        self.figure("CephFS volume on remote-fs", time.monotonic() - start)

    def test_reboot_member(self):
        """The last VM reboots: musterd (and with --full its monitor and
        OSDs, the OSD drop-in and the by-id links proven) comes back by
        itself; muster status all online (and HEALTH_OK) again."""
        vm = self.lab.vms[-1]
        if self.ceph:
            for osd in osds_of(vm):
                link = vm.sh(f"readlink /var/lib/ceph/osd/ceph-{osd}/block").strip()
                check(link.startswith("/dev/disk/by-id/"), f"osd.{osd}'s block link names a stable device", link)
                dropins = show(vm, f"ceph-osd@{osd}", "DropInPaths")["DropInPaths"]
                check("ceph-osd@.service.d/muster.conf" in dropins, f"ceph-osd@{osd} loads muster's drop-in", dropins)
        took = vm.reboot()
        self.figure(f"{vm.name} reboot to booted", took)
        start = time.monotonic()
        units = ["musterd"] + (ceph_units(vm) if self.ceph else [])
        for unit in units:
            journal = lambda: vm.exec(["journalctl", "-b", "-u", unit, "--no-pager", "-n", "30"]).stdout  # noqa: E731
            check(is_active(vm, unit), f"{vm.name}: {unit} after the reboot", journal())
        if self.ceph:
            for osd in osds_of(vm):
                owner = vm.sh(f"stat -L -c %U /var/lib/ceph/osd/ceph-{osd}/block").strip()
                check(owner == "ceph", f"osd.{osd}'s device belongs to ceph after the reboot (the drop-in)", owner)
            wait_for(f"{vm.name}'s OSDs up", lambda: all(up for _, up in osd_states(self.vm(1), osds_of(vm))), 900)
            wait_health_ok(self.vm(1), 900)
            self.figure(f"{vm.name} booted to HEALTH_OK", time.monotonic() - start)
        wait_for("muster status all online", lambda: all_online(self.vm(1), len(self.lab.vms)), 600)
        self.figure(f"{vm.name} reboot to all recovered", took + time.monotonic() - start)

    def test_remove_and_purge(self):
        """apt remove, then apt purge, of muster on vm2 leaves its LXD (and
        Ceph) running."""
        vm = self.vm(2)
        apt(vm, "remove")
        check(not is_active(vm, "musterd"), "musterd stopped by remove")
        check(vm.exec(["test", "-d", "/var/lib/muster"]).ok, "remove keeps /var/lib/muster")
        self.check_lxd_and_ceph_running(vm, "remove")
        apt(vm, "purge")
        for path in ("/var/lib/muster", "/etc/muster", "/usr/sbin/musterd"):
            check(not vm.exec(["test", "-e", path]).ok, f"purge deletes {path}")
        self.check_lxd_and_ceph_running(vm, "purge")

    def check_lxd_and_ceph_running(self, vm, after):
        for unit in ["lxd"] + (ceph_units(vm) if self.ceph else []):
            check(is_active(vm, unit), f"{vm.name}: {unit} after apt {after}")
        members = self.vm(1).sh("lxc cluster list --format csv", timeout=300)
        check(members.count("ONLINE") == len(self.lab.vms), f"LXD members online after apt {after}", members)
        if self.ceph:
            check("RUNNING" in self.vm(1).sh("lxc list c1 --format csv -c s"), f"c1 runs after apt {after} on {vm.name}")
            wait_health_ok(vm, 300)


# Helpers on a VM.


def show(vm, unit, *props):
    out = vm.sh(f"systemctl show {unit} " + " ".join(f"-p {p}" for p in props))
    return dict(line.split("=", 1) for line in out.splitlines() if "=" in line)


def vm_json_lines(vm, argv):
    r = vm.exec(argv)
    check(r.ok, f"`{' '.join(argv)}`", r)
    return [json.loads(line) for line in r.stdout.splitlines() if line.strip()]


def enroll(vm):
    """Zero-touch: the enrollment passphrase and musterd.toml's line for it,
    as the README's cloud-init example does, then a restart."""
    vm.put("/etc/muster/enrollment", ENROLLMENT + "\n", mode=0o600)
    vm.sh(
        "sed -i 's|^# enrollment_passphrase_file = .*|enrollment_passphrase_file = \"/etc/muster/enrollment\"|' "
        "/etc/muster/musterd.toml && grep -q '^enrollment_passphrase_file' /etc/muster/musterd.toml "
        "&& systemctl restart musterd"
    )


def muster_status(vm):
    return json.loads(vm.sh("muster status --json", timeout=300))


def all_online(vm, n):
    members = muster_status(vm)["members"]
    return len(members) == n and all(m["status"] == "Online" for m in members)


def check_all_online(vm, n):
    check(all_online(vm, n), "muster status: every member online", muster_status(vm)["members"])


def is_active(vm, unit):
    return vm.exec(["systemctl", "is-active", unit]).stdout.strip() == "active"


def ceph_units(vm):
    """The Ceph daemons muster gave this VM (a monitor and a manager on each
    of the suite's three VMs)."""
    return [f"ceph-mon@{vm.name}", f"ceph-mgr@{vm.name}"] + [f"ceph-osd@{i}" for i in osds_of(vm)]


def osds_of(vm):
    return sorted(int(p.name.split("-", 1)[1]) for p in map(Path, vm.sh("ls -d /var/lib/ceph/osd/ceph-* 2>/dev/null || true").split()))


def osd_states(vm, ids):
    dump = json.loads(vm.sh("ceph osd dump --format json", timeout=120))
    return [(o["osd"], o["up"] == 1) for o in dump["osds"] if o["osd"] in ids]


def wait_health_ok(vm, timeout):
    def probe():
        r = vm.exec(["ceph", "health"], timeout=120)
        return r.ok and r.stdout.startswith("HEALTH_OK")

    try:
        wait_for("HEALTH_OK", probe, timeout, every=10)
    except Failure:
        raise Failure("Ceph not HEALTH_OK: " + vm.exec(["ceph", "health", "detail"], timeout=120).stdout)


def apt(vm, action):
    r = vm.exec(["apt", action, "-y", "muster"], env={"DEBIAN_FRONTEND": "noninteractive"}, timeout=600)
    check(r.ok, f"{vm.name}: apt {action} muster", r)


def indent(text):
    return "\n".join("    " + line for line in text.rstrip().splitlines())


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--deb", required=True)
    ap.add_argument("--image", required=True)
    ap.add_argument("--container", required=True, help="the busybox image tarball of `muster-lab image`")
    ap.add_argument("--full", action="store_true", help="three VMs with Ceph and CephFS (not within CI's time)")
    ap.add_argument("--keep", action="store_true", help="leave the lab up at the end")
    ap.add_argument("--lab", metavar="PREFIX", help="run on this kept lab (implies --keep), e.g. with --only")
    ap.add_argument("--only", metavar="TEST,...", help="run only these tests, e.g. reboot_member")
    args = ap.parse_args()
    args.keep = args.keep or bool(args.lab)

    suite = Suite(args)
    def stop(sig, _frame):
        if suite.lab and not args.keep:
            suite.lab.down()
        sys.exit(128 + sig)

    signal.signal(signal.SIGINT, stop)
    signal.signal(signal.SIGTERM, stop)
    tests = [getattr(suite, n) for n in dir(Suite) if n.startswith("test_")]
    tests.sort(key=lambda t: t.__code__.co_firstlineno)
    if args.only:
        wanted = {"boot", *args.only.split(",")}
        tests = [t for t in tests if t.__name__[len("test_"):] in wanted]
    passed, failed, not_run, skipped = [], [], [], []
    total = time.monotonic()
    try:
        for test in tests:
            name = test.__name__[len("test_"):]
            if failed:
                not_run.append(name)
                print(f"test {name} ... not run (an earlier test failed)", flush=True)
                continue
            print(f"test {name}: {' '.join(test.__doc__.split())}", flush=True)
            start = time.monotonic()
            try:
                why = test()
                if why:
                    skipped.append(name)
                    print(f"test {name} ... skipped: {why}", flush=True)
                    continue
                passed.append(name)
                print(f"test {name} ... ok ({time.monotonic() - start:.0f} s)", flush=True)
            except Exception:
                failed.append(name)
                print(f"test {name} ... FAILED ({time.monotonic() - start:.0f} s)", flush=True)
                traceback.print_exc()
    finally:
        if suite.lab:
            if failed:
                print(f"consoles and QEMU logs kept in {suite.lab.keep_logs()}", flush=True)
            if args.keep:
                print(f"lab kept: tests/vmlab/vmlab.py down {suite.lab.prefix}")
            else:
                suite.lab.down()
    print("\nfigures:")
    for name, secs in suite.figures:
        print(f"  {name}: {secs:.0f} s")
    print(f"  the whole suite: {time.monotonic() - total:.0f} s")
    print(f"\nvm-run: {len(passed)} passed, {len(failed) + len(not_run)} failed, {len(skipped)} skipped")
    sys.exit(1 if failed or not_run else 0)


if __name__ == "__main__":
    main()
