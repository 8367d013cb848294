"""Integration: a tiny QEMU (TCG) guest live-migrates between two private libvirt daemons.

Set-up built here, removed exactly also on failure:

* a busybox initramfs (written as a newc cpio by :func:`newc`, gzip) whose
  ``/init`` mounts proc/sys/dev and prints ``ovl-counter N`` to the serial
  port ten times a second, and the Debian cloud kernel copied next to it;
* two ``libvirtd`` instances as non-daemon children, in unprivileged
  *session* mode (uid 65534: each gets its own config/run/cache dirs from
  ``XDG_*``, its own unix socket, its own ``host_uuid``; loopback only, no
  TCP listener - peer-to-peer migration goes over the target's unix socket
  and QEMU's stream over ``tcp://127.0.0.1``). Session mode avoids every
  shared system path (``/run/libvirt``, ``/var/lib/libvirt``) that two
  privileged daemons on one host would fight over, and needs no
  ``qemu.conf`` security overrides: QEMU runs as the daemon's user.

The guest is a ``type='qemu'`` domain (TCG; KVM is never assumed), direct
kernel boot, 96 MiB, no disk. lava's LibvirtDriver migrates it live A -> B
(peer-to-peer) and back B -> A (direct, lava drives both daemons); each
time the counter on the target must continue from where the source left off
- the guest's memory moved, it did not reboot. Total time and libvirt's
downtime are recorded as test properties.
"""

from __future__ import annotations

import contextlib
import glob
import gzip
import os
import re
import shutil
import signal
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from openvolcano.api.lava import ImageSpec, ImageState, MigrationMode

pytestmark = [
    pytest.mark.root,
    pytest.mark.slow,
    pytest.mark.anyio,
    pytest.mark.timeout(300),
]

NOBODY = 65534
PREFIX = "lvtcg"  # domain names: the daemons are private to the test
LIBVIRTD = "/usr/sbin/libvirtd"
BUSYBOX = "/bin/busybox"
INIT = """#!/bin/busybox sh
/bin/busybox mount -t proc proc /proc
/bin/busybox mount -t sysfs sys /sys
/bin/busybox mount -t devtmpfs dev /dev
i=0
while true; do
  i=$((i+1))
  echo "ovl-counter $i" > /dev/ttyS0
  /bin/busybox sleep 0.1
done
"""
COUNTER = re.compile(rb"^ovl-counter (\d+)\r?$")


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def newc(entries: list[tuple[str, int, bytes]]) -> bytes:
    """A newc cpio archive of ``(path, mode, data)`` entries (what the kernel unpacks)."""

    def pad(n: int) -> bytes:
        return b"\0" * (-n % 4)

    out = bytearray()
    for ino, (name, mode, data) in enumerate([*entries, ("TRAILER!!!", 0, b"")], start=1):
        raw = name.encode() + b"\0"
        fields = [ino, mode, 0, 0, 1, 0, len(data), 0, 0, 0, 0, len(raw), 0]
        out += b"070701" + b"".join(b"%08X" % f for f in fields) + raw
        out += pad(len(out)) + data
        out += pad(len(out))
    return bytes(out)


def build_initramfs(path: Path) -> None:
    d, f = 0o040755, 0o100755
    entries = [(n, d, b"") for n in ("bin", "proc", "sys", "dev")]
    entries += [("bin/busybox", f, Path(BUSYBOX).read_bytes()), ("init", f, INIT.encode())]
    path.write_bytes(gzip.compress(newc(entries), compresslevel=1))


def counters(data: bytes) -> list[int]:
    """Counter values of the *complete* lines of a console log."""
    lines = data.split(b"\n")
    if not data.endswith(b"\n"):
        lines = lines[:-1]
    return [int(m.group(1)) for line in lines if (m := COUNTER.match(line))]


def wait_until(predicate: Callable[[], bool], what: str, timeout: float) -> None:
    """Bounded wait for a real process (daemon, guest) to get somewhere."""
    deadline = time.monotonic() + timeout
    while not predicate():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.05)


@dataclass
class Daemon:
    name: str
    root: Path
    proc: subprocess.Popen[bytes]

    @property
    def uri(self) -> str:
        return f"qemu+unix:///session?socket={self.root}/run/libvirt-sock"

    @property
    def log_dir(self) -> Path:
        return self.root / "log"


@dataclass
class Lab:
    base: Path
    kernel: Path
    initrd: Path
    daemons: dict[str, Daemon]


def _start_daemon(base: Path, name: str) -> Daemon:
    root = base / name
    for sub in ("config/libvirt", "run", "cache", "home", "log"):
        (root / sub).mkdir(parents=True)
    (root / "config/libvirt/libvirtd.conf").write_text(
        f'host_uuid = "{uuid.uuid4()}"\nunix_sock_dir = "{root}/run"\n'
    )
    # QEMU's stdout/stderr to a file: no virtlogd that would outlive the test.
    (root / "config/libvirt/qemu.conf").write_text('stdio_handler = "file"\n')
    for dirpath, dirnames, filenames in os.walk(root):
        for entry in [dirpath, *(os.path.join(dirpath, n) for n in dirnames + filenames)]:
            os.chown(entry, NOBODY, NOBODY)
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": str(root / "home"),
        "XDG_CONFIG_HOME": str(root / "config"),
        "XDG_RUNTIME_DIR": str(root / "run"),
        "XDG_CACHE_HOME": str(root / "cache"),
    }
    with (root / "libvirtd.log").open("wb") as log:
        proc = subprocess.Popen(
            [LIBVIRTD, "--timeout", "0"],
            env=env, user=NOBODY, group=NOBODY, extra_groups=[],
            stdout=log, stderr=subprocess.STDOUT, cwd=root,
        )  # fmt: skip
    return Daemon(name=name, root=root, proc=proc)


def _stop_daemon(d: Daemon) -> None:
    # Guests are not the daemon's children: kill any QEMU it left, by its pid file.
    for pidfile in glob.glob(f"{d.root}/run/libvirt/qemu/run/*.pid"):
        with contextlib.suppress(ValueError, ProcessLookupError, FileNotFoundError):
            os.kill(int(Path(pidfile).read_text().strip()), signal.SIGKILL)
    if d.proc.poll() is None:
        d.proc.terminate()
        try:
            d.proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            d.proc.kill()
            d.proc.wait()


def _zombie_qemus() -> list[int]:
    """Our dead-but-unreaped QEMU adoptees (see :func:`reap_adopted_qemus`)."""
    found = []
    for stat in glob.glob("/proc/[0-9]*/stat"):
        with contextlib.suppress(OSError):
            text = Path(stat).read_text()
            comm = text[text.index("(") + 1 : text.rindex(")")]
            state, ppid = text[text.rindex(")") + 2 :].split()[:2]
            if state == "Z" and int(ppid) == os.getpid() and comm.startswith("qemu"):
                found.append(int(stat.split("/")[2]))
    return found


@contextlib.contextmanager
def reap_adopted_qemus() -> Iterator[None]:
    """Reap QEMU processes this test process adopted as a child subreaper.

    libvirt daemonizes QEMU, so an exiting QEMU goes to the nearest subreaper
    ancestor - this pytest process once the netns back-end (which sets
    ``PR_SET_CHILD_SUBREAPER``) ran in it. Unreaped, it stays a zombie that
    ``kill(pid, 0)`` still finds, and libvirt waits for it to die for tens
    of seconds on every migration. Only zombies named qemu whose parent is
    this process are reaped, by pid.
    """
    done = threading.Event()

    def run() -> None:
        while not done.wait(0.05):
            for pid in _zombie_qemus():
                with contextlib.suppress(ChildProcessError):
                    os.waitpid(pid, os.WNOHANG)

    thread = threading.Thread(target=run, name="qemu-reaper", daemon=True)
    thread.start()
    try:
        yield
    finally:
        done.set()
        thread.join()


@pytest.fixture
def lab() -> Iterator[Lab]:
    if os.geteuid() != 0:
        pytest.skip("needs root (runs the libvirt daemons as an unprivileged user)")
    pytest.importorskip("libvirt")
    kernels = sorted(glob.glob("/boot/vmlinuz-*-cloud-amd64"))
    for need, present in [
        (LIBVIRTD, os.path.exists(LIBVIRTD)),
        ("qemu-system-x86_64", shutil.which("qemu-system-x86_64") is not None),
        (BUSYBOX, os.path.exists(BUSYBOX)),
        ("the Debian cloud kernel", bool(kernels)),
    ]:
        if not present:
            pytest.skip(f"{need} is not installed (make apt)")
    # Not under pytest's tmp_path: its parents are private to root.
    base = Path(tempfile.mkdtemp(prefix="ovl-lvtcg-"))
    daemons: dict[str, Daemon] = {}
    with reap_adopted_qemus():
        try:
            os.chmod(base, 0o755)
            kernel, initrd = base / "vmlinuz", base / "initrd.gz"
            shutil.copyfile(kernels[-1], kernel)
            build_initramfs(initrd)
            for name in ("a", "b"):
                daemons[name] = _start_daemon(base, name)
            for d in daemons.values():
                sock = d.root / "run" / "libvirt-sock"
                wait_until(
                    lambda d=d, sock=sock: sock.exists() or d.proc.poll() is not None,
                    f"libvirtd {d.name}",
                    30,
                )
                assert d.proc.poll() is None, (d.root / "libvirtd.log").read_text()[-2000:]
            yield Lab(base=base, kernel=kernel, initrd=initrd, daemons=daemons)
        finally:
            for d in daemons.values():
                _stop_daemon(d)
            shutil.rmtree(base, ignore_errors=True)


@pytest.fixture
async def driver(lab: Lab) -> AsyncIterator[object]:
    from openvolcano.stratov.lava.libvirt_driver import LibvirtDriver, LibvirtServer

    servers = [
        LibvirtServer(
            name=d.name,
            uri=d.uri,
            capacity=2,
            domain_type="qemu",
            kernel=str(lab.kernel),
            initrd=str(lab.initrd),
            cmdline="console=ttyS0 quiet panic=-1",
            log_dir=str(d.log_dir),
            migration_uri="tcp://127.0.0.1",
            # a drives its own migrations (peer-to-peer), b is driven by lava (direct).
            peer_to_peer=d.name == "a",
        )
        for d in lab.daemons.values()
    ]
    drv = LibvirtDriver(servers, domain_prefix=PREFIX, stop_timeout=2)
    try:
        yield drv
    finally:
        for img in await drv.list_images():
            await drv.destroy(img.name)
        await drv.close()


def check_continues(source_log: bytes, target_log: bytes, hop: str) -> tuple[int, int]:
    """The counter on the target picks up where the source stopped (no reboot)."""
    last = counters(source_log)[-1]
    seen = counters(target_log)
    assert seen, f"{hop}: target console shows no counter"
    # One line may be split between the two logs at the moment of switch-over.
    assert last < seen[0] <= last + 2, f"{hop}: source ended at {last}, target began at {seen[0]}"
    return last, seen[0]


async def test_counter_survives_live_migration_both_ways(
    lab: Lab, driver: object, record_property: pytest.RecordProperty
) -> None:
    from openvolcano.stratov.lava.libvirt_driver import LibvirtDriver

    assert isinstance(driver, LibvirtDriver)
    d = driver
    assert (await d.capabilities()).live_migration
    name = "counter"
    log_name = f"{PREFIX}-{name}.log"
    log_a = lab.daemons["a"].log_dir / log_name
    log_b = lab.daemons["b"].log_dir / log_name

    await d.create("a", ImageSpec(name=name, memory_mb=96, cpu_cores=1))
    await d.start(name)

    def counted(path: Path, n: int) -> bool:
        return path.exists() and len(counters(path.read_bytes())) >= n

    wait_until(lambda: counted(log_a, 10), "the guest to boot under TCG", 150)

    results = {}
    for hop, target, src_log, dst_log in [
        ("a->b", "b", log_a, log_b),
        ("b->a", "a", log_b, log_a),
    ]:
        before = dst_log.read_bytes() if dst_log.exists() else b""
        report = await d.migrate(name, target, MigrationMode.LIVE)
        assert report.mode_used is MigrationMode.LIVE, report.note
        assert report.memory_preserved
        assert 0 < report.downtime_s <= report.total_s
        assert report.bytes_moved > 1 << 20  # guest RAM really travelled
        assert "downtime reported by libvirt" in report.note
        status = await d.status(name)
        assert (status.server, status.state) == (target, ImageState.RUNNING)

        def fresh(path: Path = dst_log, old: bytes = before) -> bytes:
            data = path.read_bytes()
            # QEMU on the target may truncate or append to an old log: keep only the new part.
            return data[len(old) :] if old and data.startswith(old) else data

        wait_until(lambda: len(counters(fresh())) >= 5, f"{hop}: counter on target", 60)
        last, first = check_continues(src_log.read_bytes(), fresh(), hop)
        results[hop] = report
        print(
            f"\nlibvirt TCG live migration {hop} ({report.note}): "
            f"total={report.total_s * 1000:.0f} ms downtime={report.downtime_s * 1000:.0f} ms "
            f"bytes={report.bytes_moved} counter {last} -> {first}"
        )
        record_property(f"{hop}_total_s", report.total_s)
        record_property(f"{hop}_downtime_s", report.downtime_s)
        record_property(f"{hop}_bytes_moved", report.bytes_moved)

    # The console lava reports is the one on the image's current server.
    assert "ovl-counter" in (await d.console(name, 4096)).text
    assert set(results) == {"a->b", "b->a"}
