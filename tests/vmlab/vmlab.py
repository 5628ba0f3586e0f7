#!/usr/bin/env python3
"""The VM lab: a LAN of real virtual machines (QEMU) for what the namespace
lab cannot show: systemd as init, the .deb and its maintainer scripts, the
kernel's rbd and ceph modules, reboots.

A lab is a dedicated "switch" network namespace holding a bridge and one tap
device per VM; each VM's QEMU runs inside that namespace with only its tap
(`-nodefaults -nic none`, no user-mode networking), so a VM reaches the other
VMs and nothing else: the namespace has no route, no NAT and no address of
its own, and while the lab lives the host has a blackhole route for the lab
subnet 10.232.K.0/24. Each VM boots the image of `build-image` through a
qcow2 overlay, with its address (10.232.K.N) and name (vmN) on the kernel
command line, and gets one or more sparse raw disks (serial `vmlab-vmN-dJ`,
so `/dev/disk/by-id/virtio-vmlab-vmN-dJ`). The lab talks to each VM through
qemu-guest-agent on a unix socket: `exec` runs a command and returns its
exit code and output, `put` writes a file.

Everything is recorded in /run/muster-vmlab/PREFIX.json before it is made,
so `down` cleans up after a driver that died; it ends only the QEMU
processes the lab started, by the PIDs it recorded.

    tests/vmlab/vmlab.py up --servers 3 --disks 1 [--deb FILE] [--image DIR]
    tests/vmlab/vmlab.py exec PREFIX 1 -- systemctl is-active musterd
    tests/vmlab/vmlab.py status
    tests/vmlab/vmlab.py down PREFIX | --all
"""

import argparse
import base64
import fcntl
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
RECORDS = Path("/run/muster-vmlab")
SUBNET = "10.232.{k}.0/24"
PREFIX_START = "mvm"
DEFAULT_MEMORY_MIB = 2560
DEFAULT_DISK_SIZE = "8G"
GUEST_ENV = {"PATH": "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin", "HOME": "/root", "LANG": "C.UTF-8"}


class LabError(Exception):
    pass


def target_dir():
    return Path(os.environ.get("CARGO_TARGET_DIR", REPO / "target"))


def run(argv, check=True, **kw):
    """Runs a host command; its stdout. An error carries its stderr."""
    p = subprocess.run(argv, capture_output=True, text=True, **kw)
    if check and p.returncode != 0:
        raise LabError(f"`{' '.join(map(str, argv))}` failed: {p.stderr.strip() or p.returncode}")
    return p.stdout


def in_switch(ns, argv, check=True):
    return run(["ip", "netns", "exec", ns, *argv], check=check)


class Result:
    def __init__(self, code, stdout, stderr):
        self.code, self.stdout, self.stderr = code, stdout, stderr

    @property
    def ok(self):
        return self.code == 0

    def __repr__(self):
        return f"exit {self.code}\n--- stdout\n{self.stdout}\n--- stderr\n{self.stderr}"


class GuestAgent:
    """qemu-guest-agent's protocol on the VM's unix socket: one JSON command,
    one JSON answer. The socket takes one client at a time, so each call has
    a connection of its own, and other clients (a second `vmlab.py exec`
    beside a test's long command) get their turn between calls. An answer
    left over from a client that went away (or a VM that rebooted) may
    still be in the channel, so each connection starts with
    guest-sync-delimited, whose answer follows a 0xFF byte that resets the
    agent's parser."""

    def __init__(self, path):
        self.path = str(path)

    def call(self, command, arguments=None, timeout=30, answer=True):
        """One command; its "return" value (None without `answer`: a
        reboot's guest-shutdown never answers)."""
        msg = {"execute": command}
        if arguments is not None:
            msg["arguments"] = arguments
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as s:
            s.settimeout(timeout)
            s.connect(self.path)
            channel = Channel(s)
            sync = secrets.randbelow(1 << 31)
            s.sendall(b"\xff" + json.dumps({"execute": "guest-sync-delimited", "arguments": {"id": sync}}).encode())
            channel.skip_to_marker()
            while channel.reply().get("return") != sync:
                pass
            s.sendall(json.dumps(msg).encode() + b"\n")
            if not answer:
                return None
            reply = channel.reply()
        if "error" in reply:
            raise LabError(f"guest agent: {command}: {reply['error'].get('desc')}")
        return reply.get("return")


class Channel:
    """The agent's answers, one JSON object a line, on a socket."""

    def __init__(self, sock):
        self.sock, self.buf = sock, b""

    def _more(self):
        chunk = self.sock.recv(1 << 20)
        if not chunk:
            raise ConnectionError("the guest agent closed the connection")
        self.buf += chunk

    def skip_to_marker(self):
        """Drops what comes before the sync's 0xFF: answers meant for an
        earlier client."""
        while b"\xff" not in self.buf:
            self._more()
        self.buf = self.buf[self.buf.rindex(b"\xff") + 1 :]

    def reply(self):
        while b"\n" not in self.buf:
            self._more()
        line, self.buf = self.buf.split(b"\n", 1)
        # A stale sync's answer has its own 0xFF before it.
        return json.loads(line.lstrip(b"\xff"))


class Vm:
    def __init__(self, lab, n):
        self.lab, self.n = lab, n
        self.name = f"vm{n}"
        self.address = f"10.232.{lab.k}.{10 + n}"
        d = lab.dir
        self.overlay = d / f"{self.name}.qcow2"
        self.disks = [d / f"{self.name}-d{j}.raw" for j in range(1, lab.disks + 1)]
        self.console = d / f"{self.name}.console"
        self.qemu_log = d / f"{self.name}.qemu.log"
        self.agent = GuestAgent(d / f"{self.name}.qga")
        self.pidfile = d / f"{self.name}.pid"

    def disk_ids(self):
        """The stable names the guest's udev gives this VM's disks."""
        return [f"/dev/disk/by-id/virtio-{self.serial(j)}" for j in range(1, len(self.disks) + 1)]

    def serial(self, j):
        return f"vmlab-{self.name}-d{j}"

    def qemu_argv(self):
        image = self.lab.image
        cmdline = " ".join(
            [
                "root=/dev/vda rw console=ttyS0 net.ifnames=0",
                f"systemd.hostname={self.name}",
                # systemd-network-generator turns this into a networkd
                # .network file: a static address, no gateway.
                f"ip={self.address}:::255.255.255.0::eth0:off",
            ]
        )
        argv = [
            "qemu-system-x86_64",
            "-name", f"{self.lab.prefix}-{self.name}",
            "-nodefaults", "-nic", "none",
            "-machine", "pc,accel=tcg", "-cpu", "max", "-smp", "1",
            "-m", str(self.lab.memory),
            "-display", "none", "-no-user-config",
            "-serial", f"file:{self.console}",
            "-kernel", str(image / "vmlinuz"), "-initrd", str(image / "initrd.img"),
            "-append", cmdline,
            "-drive", f"file={self.overlay},if=none,id=root,format=qcow2,cache=unsafe,discard=unmap",
            "-device", "virtio-blk-pci,drive=root",
            "-netdev", f"tap,id=lan,ifname={self.tap},script=no,downscript=no",
            "-device", f"virtio-net-pci,netdev=lan,mac=52:54:00:e8:{self.lab.k:02x}:{self.n:02x}",
            "-chardev", f"socket,id=qga,path={self.agent.path},server=on,wait=off",
            "-device", "virtio-serial-pci",
            "-device", "virtserialport,chardev=qga,name=org.qemu.guest_agent.0",
            "-pidfile", str(self.pidfile),
        ]
        for j, disk in enumerate(self.disks, 1):
            argv += [
                "-drive", f"file={disk},if=none,id=d{j},format=raw,cache=unsafe,discard=unmap",
                # QEMU 7.2 takes the serial on the device, not the drive.
                "-device", f"virtio-blk-pci,drive=d{j},serial={self.serial(j)}",
            ]
        return argv

    @property
    def tap(self):
        return f"tap{self.n}"

    def pid(self):
        return self.lab.record.get("pids", {}).get(self.name)

    def alive(self):
        pid = self.pid()
        return pid is not None and is_our_qemu(pid, self.lab.prefix)

    # The guest, through its agent.

    def exec(self, argv, input=None, timeout=600, env=None):
        """Runs argv (a list, or a string for /bin/sh -c) in the VM; a
        Result with its exit code and output."""
        if isinstance(argv, str):
            argv = ["/bin/sh", "-c", argv]
        args = {"path": argv[0], "arg": list(argv[1:]), "capture-output": True}
        if input is not None:
            args["input-data"] = base64.b64encode(input.encode() if isinstance(input, str) else input).decode()
        # The agent's own environment has no HOME, which lxc needs.
        args["env"] = [f"{k}={v}" for k, v in {**GUEST_ENV, **(env or {})}.items()]
        pid = self.agent.call("guest-exec", args)["pid"]
        deadline = time.monotonic() + timeout
        delay = 0.2
        while True:
            st = self.agent.call("guest-exec-status", {"pid": pid})
            if st.get("exited"):
                out = base64.b64decode(st.get("out-data", "")).decode(errors="replace")
                err = base64.b64decode(st.get("err-data", "")).decode(errors="replace")
                code = st.get("exitcode", 128 + st.get("signal", 0))
                return Result(code, out, err)
            if time.monotonic() > deadline:
                raise LabError(f"{self.name}: `{' '.join(argv)}` still running after {timeout} s")
            time.sleep(delay)
            delay = min(delay * 1.5, 2.0)

    def sh(self, script, timeout=600, **kw):
        """Runs a shell script; its stdout. A non-zero exit is an error."""
        r = self.exec(script, timeout=timeout, **kw)
        if not r.ok:
            raise LabError(f"{self.name}: `{script}` failed: {r!r}")
        return r.stdout

    def put(self, path, data, mode=0o644):
        """Writes a file in the VM (root-owned, with `mode`)."""
        if isinstance(data, str):
            data = data.encode()
        handle = self.agent.call("guest-file-open", {"path": path, "mode": "w"})
        try:
            step = 1 << 20
            for i in range(0, len(data), step):
                chunk = base64.b64encode(data[i : i + step]).decode()
                self.agent.call("guest-file-write", {"handle": handle, "buf-b64": chunk}, timeout=120)
        finally:
            self.agent.call("guest-file-close", {"handle": handle})
        self.sh(f"chmod {mode:o} '{path}'")

    def wait_agent(self, timeout=600):
        deadline = time.monotonic() + timeout
        while True:
            try:
                self.agent.call("guest-ping", timeout=10)
                return
            except (OSError, ConnectionError, ValueError, LabError):
                if not self.alive():
                    raise LabError(f"{self.name}: QEMU exited; see {self.console} and {self.qemu_log}")
                if time.monotonic() > deadline:
                    raise LabError(f"{self.name}: no guest agent after {timeout} s; see {self.console}")
                time.sleep(2)

    def clock_offset(self):
        """The guest's clock minus the host's, in ns, and the bound on its
        error (half the round trip)."""
        t0 = time.time_ns()
        guest = self.agent.call("guest-get-time")
        t1 = time.time_ns()
        return guest - (t0 + t1) // 2, (t1 - t0) // 2

    def sync_clock(self, within_ns=20_000_000):
        """Sets the guest's clock to the host's. A VM's clock starts from
        the emulated RTC, to the second: VMs that booted together are up to
        a second apart, and Ceph's monitors warn from 50 ms. The VMs have
        no time server to reach, so the host sets their clocks, correcting
        for the agent's delay until the guest is within `within_ns`."""
        correction = 0
        for _ in range(20):
            self.agent.call("guest-set-time", {"time": time.time_ns() + correction})
            offset, error = self.clock_offset()
            if abs(offset) + error <= within_ns:
                return offset
            if error < abs(offset):
                correction -= offset
        raise LabError(f"{self.name}: cannot set its clock within {within_ns / 1e6} ms (last offset {offset / 1e6} ms)")

    def set_clock_behind(self, by_ns):
        """Sets the guest's clock `by_ns` behind the host's (to within the
        agent's delay): a member whose clock lags."""
        self.agent.call("guest-set-time", {"time": time.time_ns() - by_ns})

    def wait_booted(self, timeout=900):
        """Until systemd says the boot is over ("running", or "degraded" with
        the failed units named in the error)."""
        start = time.monotonic()
        self.wait_agent(timeout)
        self.sync_clock()
        left = max(60, timeout - (time.monotonic() - start))
        state = self.exec(["systemctl", "is-system-running", "--wait"], timeout=left).stdout.strip()
        if state != "running":
            failed = self.exec(["systemctl", "--failed", "--no-legend", "--plain"]).stdout
            raise LabError(f"{self.name}: systemd is {state}:\n{failed}")

    def boot_id(self):
        return self.sh("cat /proc/sys/kernel/random/boot_id").strip()

    def reboot(self):
        """Asks the guest to reboot (QEMU's process stays) and waits until
        it is back and booted; returns the seconds that took."""
        before = self.boot_id()
        start = time.monotonic()
        self.agent.call("guest-shutdown", {"mode": "reboot"}, answer=False)
        while True:
            time.sleep(5)
            try:
                if self.boot_id() != before:
                    break
            except (OSError, ConnectionError, ValueError, LabError):
                pass
            if time.monotonic() - start > 900:
                raise LabError(f"{self.name}: not back 900 s after the reboot; see {self.console}")
        self.wait_booted()
        return time.monotonic() - start

    def install_deb(self, deb):
        """Copies the .deb in and installs it with apt, as an administrator
        would: its maintainer scripts enable and start musterd."""
        remote = f"/root/{Path(deb).name}"
        self.put(remote, Path(deb).read_bytes())
        r = self.exec(["apt", "install", "-y", remote], env={"DEBIAN_FRONTEND": "noninteractive"})
        if not r.ok:
            raise LabError(f"{self.name}: apt install {remote} failed: {r!r}")
        return r.stdout


def is_our_qemu(pid, prefix):
    """Whether pid is still the QEMU this lab started (the pid may have been
    reused since): its program and its -name."""
    try:
        exe = os.readlink(f"/proc/{pid}/exe")
        argv = Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")
    except OSError:
        return False
    return exe.endswith("qemu-system-x86_64") and any(a.startswith(prefix.encode() + b"-vm") for a in argv)


class Lab:
    def __init__(self, record):
        self.record = record
        self.prefix = record["prefix"]
        self.k = record["k"]
        self.dir = Path(record["dir"])
        self.image = Path(record["image"])
        self.disks = record["disks"]
        self.memory = record["memory"]
        self.ns = f"{self.prefix}-sw"
        self.subnet = SUBNET.format(k=self.k)
        self.vms = [Vm(self, n) for n in range(1, record["servers"] + 1)]
        self._torn_down = False

    def vm(self, n):
        return self.vms[n - 1]

    def save(self):
        RECORDS.mkdir(parents=True, exist_ok=True)
        tmp = RECORDS / f"{self.prefix}.json.tmp"
        tmp.write_text(json.dumps(self.record, indent=1))
        os.replace(tmp, RECORDS / f"{self.prefix}.json")

    @staticmethod
    def load(prefix):
        path = RECORDS / f"{prefix}.json"
        if not path.exists():
            raise LabError(f"no VM lab {prefix} (no {path})")
        return Lab(json.loads(path.read_text()))

    @staticmethod
    def all():
        if not RECORDS.exists():
            return []
        return [Lab.load(p.stem) for p in sorted(RECORDS.glob("*.json"))]

    @staticmethod
    def create(servers, disks, image, memory=DEFAULT_MEMORY_MIB, disk_size=DEFAULT_DISK_SIZE):
        """Records a new lab, then builds its switch and starts its VMs
        (without waiting for them to boot). A failure tears down what was
        made."""
        if os.geteuid() != 0:
            raise LabError("the VM lab needs root (network namespaces, taps, a route)")
        if not (1 <= servers <= 20):
            raise LabError("between 1 and 20 servers")
        image = Path(image).resolve()
        for f in ("root.qcow2", "vmlinuz", "initrd.img"):
            if not (image / f).exists():
                raise LabError(f"{image / f} is missing: run tests/vmlab/build-image")
        prefix = PREFIX_START + secrets.token_hex(2)
        # Labs of other work trees start beside this one: choosing the
        # subnet and recording it is one step under a lock, else two labs
        # take the same subnet (and one's teardown removes the other's
        # blackhole route).
        RECORDS.mkdir(parents=True, exist_ok=True)
        with open(RECORDS / ".lock", "w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            lab = Lab(
                {
                    "prefix": prefix,
                    "k": free_subnet(),
                    "dir": str(target_dir() / "vmlab" / f"run-{prefix}"),
                    "image": str(image),
                    "servers": servers,
                    "disks": disks,
                    "memory": memory,
                    "pids": {},
                    "route": False,
                }
            )
            lab.save()
        try:
            lab._build(disk_size)
        except BaseException:
            lab.down()
            raise
        return lab

    def _build(self, disk_size):
        self.dir.mkdir(parents=True, exist_ok=True)
        run(["ip", "netns", "add", self.ns])
        # The blackhole first: from now on no lab address can leave the host
        # through its default route. Recorded once it is there: a route
        # that could not be added is not this lab's to remove.
        run(["ip", "route", "add", "blackhole", self.subnet])
        self.record["route"] = True
        self.save()
        for key in ("all", "default"):
            in_switch(self.ns, ["sysctl", "-q", "-w", f"net.ipv6.conf.{key}.disable_ipv6=1"])
        in_switch(self.ns, ["ip", "link", "add", "br0", "type", "bridge"])
        in_switch(self.ns, ["ip", "link", "set", "br0", "up"])
        for vm in self.vms:
            in_switch(self.ns, ["ip", "tuntap", "add", "dev", vm.tap, "mode", "tap"])
            in_switch(self.ns, ["ip", "link", "set", vm.tap, "master", "br0", "up"])
            run(["qemu-img", "create", "-q", "-f", "qcow2", "-F", "qcow2", "-b", str(self.image / "root.qcow2"), str(vm.overlay)])
            for disk in vm.disks:
                run(["truncate", "-s", disk_size, str(disk)])
        for vm in self.vms:
            self._start(vm)

    def _start(self, vm):
        with open(vm.qemu_log, "ab") as log:
            # `ip netns exec` execs QEMU: the pid is QEMU's.
            p = subprocess.Popen(
                ["ip", "netns", "exec", self.ns, *vm.qemu_argv()],
                stdin=subprocess.DEVNULL, stdout=log, stderr=log, start_new_session=True,
            )
        self.record["pids"][vm.name] = p.pid
        self.save()
        time.sleep(0.5)
        if p.poll() is not None:
            raise LabError(f"{vm.name}: QEMU exited at once: {vm.qemu_log.read_text()}")

    def each(self, work):
        """Runs work(vm) for every VM at once; the results in the VMs'
        order. Fails with every VM's error."""
        results, errors = [None] * len(self.vms), []

        def one(i, vm):
            try:
                results[i] = work(vm)
            except Exception as e:  # reported below, with every VM's
                errors.append(f"{vm.name}: {e}")

        threads = [threading.Thread(target=one, args=(i, vm)) for i, vm in enumerate(self.vms)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise LabError("; ".join(errors))
        return results

    def wait_booted(self):
        """Waits for every VM to finish booting; the seconds each took from
        now, by name."""
        start = time.monotonic()

        def one(vm):
            vm.wait_booted()
            return time.monotonic() - start

        return dict(zip((vm.name for vm in self.vms), self.each(one)))

    def keep_logs(self):
        """Copies the consoles and QEMU's logs out of the lab's directory
        (which `down` deletes); their new directory."""
        dest = target_dir() / "vmlab" / "logs" / self.prefix
        dest.mkdir(parents=True, exist_ok=True)
        for vm in self.vms:
            for f in (vm.console, vm.qemu_log):
                if f.exists():
                    shutil.copy(f, dest / f.name)
        return dest

    def down(self):
        """Ends the lab's QEMUs by their recorded PIDs, deletes its
        namespace, route, disks and record. Safe to call again."""
        if self._torn_down:
            return
        errors = []
        pids = [p for p in self.record.get("pids", {}).values() if is_our_qemu(p, self.prefix)]
        for pid in pids:
            os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + 20
        while any(is_our_qemu(p, self.prefix) for p in pids) and time.monotonic() < deadline:
            time.sleep(0.2)
        for pid in pids:
            if is_our_qemu(pid, self.prefix):
                os.kill(pid, signal.SIGKILL)
        if Path(f"/run/netns/{self.ns}").exists():
            left = run(["ip", "netns", "pids", self.ns], check=False).split()
            if left:
                errors.append(f"processes left in {self.ns}: {' '.join(left)} (not ended: the lab did not start them)")
            else:
                run(["ip", "netns", "del", self.ns], check=False)
        if self.record.get("route"):
            run(["ip", "route", "del", "blackhole", self.subnet], check=False)
        shutil.rmtree(self.dir, ignore_errors=True)
        (RECORDS / f"{self.prefix}.json").unlink(missing_ok=True)
        self._torn_down = True
        if errors:
            raise LabError("; ".join(errors))


def free_subnet():
    """A K for 10.232.K.0/24 that no other VM lab and no host route uses."""
    used = {lab.k for lab in Lab.all()}
    routes = run(["ip", "-4", "route", "show", "table", "all"], check=False)
    for k in range(1, 255):
        if k not in used and f"10.232.{k}." not in routes:
            return k
    raise LabError("no free 10.232.K.0/24 subnet")


def default_image():
    out = run([str(HERE / "build-image")])
    return Path(out.strip().splitlines()[-1])


def main():
    ap = argparse.ArgumentParser(prog="vmlab", description=__doc__.split("\n\n")[0])
    sub = ap.add_subparsers(dest="cmd", required=True)
    up = sub.add_parser("up", help="start a lab of VMs and wait until they are booted")
    up.add_argument("--servers", type=int, default=3)
    up.add_argument("--disks", type=int, default=1, help="sparse raw disks per VM, for Ceph")
    up.add_argument("--disk-size", default=DEFAULT_DISK_SIZE)
    up.add_argument("--memory", type=int, default=DEFAULT_MEMORY_MIB, help="MiB per VM")
    up.add_argument("--image", help="an image directory of build-image (default: build or reuse it)")
    up.add_argument("--deb", help="install this muster .deb in every VM with apt")
    ex = sub.add_parser("exec", help="run a command in a VM; exits with its code")
    ex.add_argument("prefix")
    ex.add_argument("vm", type=int)
    ex.add_argument("argv", nargs="+")
    sub.add_parser("status", help="list the VM labs and their VMs")
    dn = sub.add_parser("down", help="tear a lab down")
    dn.add_argument("prefix", nargs="?")
    dn.add_argument("--all", action="store_true")
    a = ap.parse_args()

    if a.cmd == "up":
        image = Path(a.image) if a.image else default_image()
        lab = Lab.create(a.servers, a.disks, image, a.memory, a.disk_size)
        stop = lambda *_: (lab.down(), sys.exit(130))  # noqa: E731
        signal.signal(signal.SIGINT, stop)
        signal.signal(signal.SIGTERM, stop)
        try:
            took = lab.wait_booted()
            for vm in lab.vms:
                print(f"{vm.name} {vm.address}: booted in {took[vm.name]:.0f} s")
                if a.deb:
                    vm.install_deb(a.deb)
                    print(f"{vm.name}: installed {Path(a.deb).name}")
        except BaseException:
            print(f"logs kept in {lab.keep_logs()}", file=sys.stderr)
            lab.down()
            raise
        print(f"lab {lab.prefix}: {lab.dir}; `{sys.argv[0]} down {lab.prefix}` tears it down")
    elif a.cmd == "exec":
        argv = a.argv[1:] if a.argv[0] == "--" else a.argv
        r = Lab.load(a.prefix).vm(a.vm).exec(argv)
        sys.stdout.write(r.stdout)
        sys.stderr.write(r.stderr)
        sys.exit(r.code)
    elif a.cmd == "status":
        for lab in Lab.all():
            print(f"{lab.prefix}: {lab.subnet}, {lab.dir}")
            for vm in lab.vms:
                print(f"  {vm.name} {vm.address} pid {vm.pid()} {'running' if vm.alive() else 'not running'}")
    elif a.cmd == "down":
        labs = Lab.all() if a.all else [Lab.load(a.prefix)] if a.prefix else []
        if not labs:
            ap.error("down needs a prefix or --all")
        for lab in labs:
            lab.down()
            print(f"{lab.prefix}: down")


if __name__ == "__main__":
    try:
        main()
    except LabError as e:
        print(f"vmlab: {e}", file=sys.stderr)
        sys.exit(1)
