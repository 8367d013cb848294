"""A private Open vSwitch instance, for interop tests and the OpenFlow demo.

Role: OpenVolcano's OpenFlow code (the ``ofp`` codec, magma, quake) is
cross-checked against the reference software switch. This module starts a
*private* OVS (its own ``ovsdb-server`` and ``ovs-vswitchd``) whose database,
sockets, pid files and logs all live in one temporary directory, so it never
touches the system's OVS service or ``/var/run/openvswitch``.

Design (after the way OVS's own test suite runs daemons):

* ``ovsdb-tool create`` makes a fresh ``conf.db`` from the installed schema;
* ``ovsdb-server --remote=punix:DIR/db.sock --unixctl=... --pidfile=...`` and
  ``ovs-vswitchd unix:DIR/db.sock --unixctl=... --pidfile=...`` run as
  ordinary (non ``--detach``) child processes, so we hold their pids; logging
  goes to files in DIR (``-vsyslog:off`` keeps the host's syslog clean);
* every child, and every ``ovs-vsctl``/``ovs-ofctl`` we run, gets
  ``OVS_RUNDIR``/``OVS_DBDIR``/``OVS_LOGDIR``/``OVS_SYSCONFDIR`` pointing at DIR,
  so bridge management sockets (``DIR/<bridge>.mgmt``) are private too;
* by default ``--disable-system``: only userspace (``netdev``) bridges, no
  kernel datapath module needed.

Invariants: :meth:`PrivateOvs.stop` signals exactly the pids we spawned
(SIGTERM, then SIGKILL after a grace period), waits for them, and removes the
temp directory; it is idempotent and runs on ``__exit__`` even after a failed
start. Readiness waits are bounded by ``ready_timeout``. Bridge names must be
unique per test (:func:`unique_name`) and at most 15 characters (Linux
interface names: a netdev bridge creates a tap device of the same name).
"""

from __future__ import annotations

import contextlib
import os
import secrets
import shutil
import signal
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import IO, Self

from openvolcano.common.errors import InvalidInput, OpenVolcanoError, Unavailable

__all__ = [
    "OvsBinaries",
    "OvsCommandError",
    "OvsNotInstalled",
    "PrivateOvs",
    "find_binaries",
    "unique_name",
]

IFNAMSIZ_MAX = 15
_SCHEMA_CANDIDATES = (
    "/usr/share/openvswitch/vswitch.ovsschema",
    "/usr/local/share/openvswitch/vswitch.ovsschema",
)


class OvsNotInstalled(Unavailable):
    """An Open vSwitch binary or the schema is missing."""


class OvsCommandError(OpenVolcanoError):
    """An OVS command failed or a daemon did not come up in time."""


@dataclass(frozen=True, kw_only=True)
class OvsBinaries:
    """Absolute paths of the OVS programs and the vswitch schema."""

    ovsdb_server: str
    ovs_vswitchd: str
    ovsdb_tool: str
    ovs_vsctl: str
    ovs_ofctl: str
    ovs_appctl: str
    schema: str


def find_binaries(
    path: str | None = None, schemas: tuple[str, ...] = _SCHEMA_CANDIDATES
) -> OvsBinaries:
    """Locate the OVS programs on ``path`` (default: ``$PATH`` plus the sbin directories).

    Raises :class:`OvsNotInstalled` naming everything missing.
    """
    if path is None:
        # Debian puts the daemons in /usr/sbin, which a non-login PATH may lack.
        path = os.environ.get("PATH", "") + os.pathsep + "/usr/sbin:/usr/local/sbin:/sbin"
    names = ("ovsdb-server", "ovs-vswitchd", "ovsdb-tool", "ovs-vsctl", "ovs-ofctl", "ovs-appctl")
    found = {n: shutil.which(n, path=path) for n in names}
    missing = [n for n, p in found.items() if p is None]
    schema = next((s for s in schemas if Path(s).is_file()), None)
    if schema is None:
        missing.append("vswitch.ovsschema")
    if missing:
        raise OvsNotInstalled(
            f"Open vSwitch is not installed (missing: {', '.join(missing)}); run `make deps`",
            missing=missing,
        )
    p = {n: str(v) for n, v in found.items()}
    return OvsBinaries(
        ovsdb_server=p["ovsdb-server"],
        ovs_vswitchd=p["ovs-vswitchd"],
        ovsdb_tool=p["ovsdb-tool"],
        ovs_vsctl=p["ovs-vsctl"],
        ovs_ofctl=p["ovs-ofctl"],
        ovs_appctl=p["ovs-appctl"],
        schema=str(schema),
    )


def unique_name(prefix: str = "ovbr") -> str:
    """``prefix`` plus a random hex suffix, short enough for a Linux interface name."""
    name = f"{prefix}{secrets.token_hex(3)}"
    if len(name) > IFNAMSIZ_MAX:
        raise InvalidInput(f"prefix {prefix!r} too long for a {IFNAMSIZ_MAX}-character name")
    return name


class PrivateOvs:
    """ovsdb-server + ovs-vswitchd in a temp dir, started by :meth:`start` or ``with``."""

    def __init__(
        self,
        *,
        ready_timeout: float = 15.0,
        command_timeout: float = 15.0,
        disable_system: bool = True,
        binaries: OvsBinaries | None = None,
        search_path: str | None = None,
    ) -> None:
        self.ready_timeout = ready_timeout
        self.command_timeout = command_timeout
        self.disable_system = disable_system
        self._bin = binaries
        self._search_path = search_path  # where find_binaries looks (None: $PATH + sbin)
        self.dir: Path | None = None
        self._procs: dict[str, subprocess.Popen[bytes]] = {}
        self._logs: list[IO[bytes]] = []
        # Bridges we created, and the interfaces OVS made for them (bridge-local and
        # internal ports: tap devices for netdev bridges). Written by add_bridge/add_port,
        # read by stop(), which removes exactly these.
        self._bridges: list[str] = []
        self._interfaces: list[str] = []
        self._vswitchd_argv: list[str] = []  # set by start(), reused by restart_vswitchd()

    # -- lifecycle ---------------------------------------------------------

    @property
    def pids(self) -> dict[str, int]:
        """Pids of the running daemons, by program name."""
        return {name: p.pid for name, p in self._procs.items() if p.poll() is None}

    @property
    def db_socket(self) -> str:
        return f"unix:{self._dir() / 'db.sock'}"

    def start(self) -> Self:
        """Create the database and start both daemons; wait until they answer."""
        if self.dir is not None:
            raise OvsCommandError("this PrivateOvs is already started")
        if self._bin is None:
            self._bin = find_binaries(self._search_path)
        b = self._bin
        self.dir = Path(tempfile.mkdtemp(prefix="ov-ovs-"))
        try:
            d = self.dir
            self._run([b.ovsdb_tool, "create", str(d / "conf.db"), b.schema])
            self._spawn(
                "ovsdb-server",
                [
                    b.ovsdb_server,
                    str(d / "conf.db"),
                    f"--remote=punix:{d / 'db.sock'}",
                    f"--unixctl={d / 'ovsdb-server.ctl'}",
                    f"--pidfile={d / 'ovsdb-server.pid'}",
                    "--no-chdir",
                    "-vsyslog:off",
                    "-vconsole:warn",
                ],
            )
            self._wait_until(
                "ovsdb-server", [b.ovs_vsctl, f"--db={self.db_socket}", "--timeout=2", "show"]
            )
            self.vsctl("--no-wait", "init")
            vswitchd = [
                b.ovs_vswitchd,
                self.db_socket,
                f"--unixctl={d / 'ovs-vswitchd.ctl'}",
                f"--pidfile={d / 'ovs-vswitchd.pid'}",
                "--no-chdir",
                "-vsyslog:off",
                "-vconsole:warn",
            ]
            if self.disable_system:
                vswitchd += ["--disable-system", "--disable-system-route"]
            self._vswitchd_argv = vswitchd
            self._start_vswitchd()
        except BaseException:
            self.stop()
            raise
        return self

    def _start_vswitchd(self) -> None:
        self._spawn("ovs-vswitchd", self._vswitchd_argv)
        b, d = self._binaries(), self._dir()
        self._wait_until(
            "ovs-vswitchd",
            [b.ovs_appctl, "--timeout=2", "-t", str(d / "ovs-vswitchd.ctl"), "version"],
        )

    def restart_vswitchd(self, *, kill: bool = True, grace: float = 5.0) -> int:
        """Stop ovs-vswitchd (SIGKILL: a crash; else SIGTERM) and start it again; new pid.

        The database (bridges, ports, controllers) survives in ovsdb-server;
        the flow tables do not - the restarted switch comes back empty and
        reconnects to its controllers. Bridges and interfaces stay recorded,
        so :meth:`stop` still removes them.
        """
        proc = self._procs.get("ovs-vswitchd")
        if proc is None or not self._vswitchd_argv:
            raise OvsCommandError("ovs-vswitchd of this PrivateOvs is not running")
        if proc.poll() is None:
            proc.send_signal(signal.SIGKILL if kill else signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)
        with contextlib.suppress(FileNotFoundError):  # a killed daemon leaves its pidfile
            (self._dir() / "ovs-vswitchd.pid").unlink()
        self._start_vswitchd()  # on failure, stop() still cleans up everything recorded
        return self._procs["ovs-vswitchd"].pid

    def stop(self, grace: float = 5.0) -> None:
        """Delete our bridges, SIGTERM our daemons (SIGKILL stragglers), remove the temp dir.

        Bridges are deleted through ovs-vsctl while ovs-vswitchd still runs: a
        netdev bridge's tap devices outlive a terminated vswitchd otherwise.
        Any of our interfaces still present afterwards is deleted directly.
        """
        vswitchd = self._procs.get("ovs-vswitchd")
        if vswitchd is not None and vswitchd.poll() is None:
            for bridge in self._bridges:
                try:
                    self.vsctl("--if-exists", "del-br", bridge)
                except OvsCommandError:
                    break  # the leftover interfaces are removed below
        for name in ("ovs-vswitchd", "ovsdb-server"):
            proc = self._procs.pop(name, None)
            if proc is None or proc.poll() is not None:
                continue
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(timeout=grace)
        _delete_links([i for i in self._interfaces if Path(f"/sys/class/net/{i}").exists()])
        self._bridges.clear()
        self._interfaces.clear()
        for f in self._logs:
            f.close()
        self._logs.clear()
        if self.dir is not None:
            shutil.rmtree(self.dir, ignore_errors=True)
            self.dir = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # -- commands ----------------------------------------------------------

    def vsctl(self, *args: str) -> str:
        """Run ``ovs-vsctl`` against the private database; returns stdout."""
        timeout = max(1, int(self.command_timeout))
        return self._run(
            [self._binaries().ovs_vsctl, f"--db={self.db_socket}", f"--timeout={timeout}", *args]
        )

    def ofctl(self, *args: str) -> str:
        """Run ``ovs-ofctl -O OpenFlow13 ARGS``; a bridge name in ARGS resolves privately."""
        return self._run([self._binaries().ovs_ofctl, "-O", "OpenFlow13", *args])

    def add_bridge(
        self,
        name: str,
        *,
        datapath_type: str = "netdev",
        protocols: str = "OpenFlow13",
        controller: str | None = None,
        fail_mode: str = "secure",
        datapath_id: int | None = None,
    ) -> None:
        """Create bridge ``name`` (one ovs-vsctl transaction) and point it at ``controller``."""
        _check_ifname(name)
        cmd = [
            "--",
            "add-br",
            name,
            "--",
            "set",
            "bridge",
            name,
            f"datapath_type={datapath_type}",
            f"protocols={protocols}",
            f"fail_mode={fail_mode}",
        ]
        if datapath_id is not None:
            if not 0 <= datapath_id < 1 << 64:
                raise InvalidInput(f"datapath_id {datapath_id} does not fit in 64 bits")
            cmd.append(f"other-config:datapath-id={datapath_id:016x}")
        if controller is not None:
            cmd += ["--", "set-controller", name, controller]
        self._bridges.append(name)
        self._interfaces.append(name)
        self.vsctl(*cmd)

    def add_port(
        self,
        bridge: str,
        port: str,
        *,
        type: str | None = None,
        ofport: int | None = None,
    ) -> None:
        """Add ``port`` to ``bridge``: an existing interface, or ``type='internal'`` etc."""
        _check_ifname(port)
        cmd = ["--", "add-port", bridge, port]
        settings = []
        if type is not None:
            settings.append(f"type={type}")
        if ofport is not None:
            settings.append(f"ofport_request={ofport}")
        if settings:
            cmd += ["--", "set", "interface", port, *settings]
        if type == "internal":  # OVS creates this interface; an existing one stays the caller's
            self._interfaces.append(port)
        self.vsctl(*cmd)

    def dump_flows(self, bridge: str) -> list[str]:
        """The flow lines of ``ovs-ofctl -O OpenFlow13 dump-flows BRIDGE`` (header dropped)."""
        out = self.ofctl("dump-flows", bridge)
        return [line.strip() for line in out.splitlines() if line.strip().startswith("cookie=")]

    # -- internals -----------------------------------------------------------

    def _dir(self) -> Path:
        if self.dir is None:
            raise OvsCommandError("this PrivateOvs is not started")
        return self.dir

    def _binaries(self) -> OvsBinaries:
        if self._bin is None:
            raise OvsCommandError("this PrivateOvs is not started")
        return self._bin

    def _env(self) -> dict[str, str]:
        d = str(self._dir())
        env = dict(os.environ)
        for var in ("OVS_RUNDIR", "OVS_DBDIR", "OVS_LOGDIR", "OVS_SYSCONFDIR"):
            env[var] = d
        return env

    def _run(self, argv: list[str]) -> str:
        try:
            done = subprocess.run(
                argv,
                env=self._env(),
                capture_output=True,
                timeout=self.command_timeout + 5,
                check=False,
            )
        except subprocess.TimeoutExpired as e:
            raise OvsCommandError(f"{_show(argv)} timed out after {e.timeout:.0f}s") from None
        if done.returncode != 0:
            err = done.stderr.decode(errors="replace").strip()
            raise OvsCommandError(f"{_show(argv)} failed ({done.returncode}): {err}")
        return done.stdout.decode(errors="replace")

    def _spawn(self, name: str, argv: list[str]) -> None:
        log = open(self._dir() / f"{name}.log", "wb")  # noqa: SIM115 - closed in stop()
        self._logs.append(log)
        self._procs[name] = subprocess.Popen(
            argv,
            env=self._env(),
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            cwd=self._dir(),
            start_new_session=True,  # Ctrl-C in a terminal reaches us, not the daemons directly
        )

    def _wait_until(self, name: str, probe: list[str]) -> None:
        """Poll ``probe`` until it succeeds, the daemon dies, or ``ready_timeout`` passes."""
        proc = self._procs[name]
        deadline = time.monotonic() + self.ready_timeout
        delay = 0.02
        while True:
            if proc.poll() is not None:
                raise OvsCommandError(
                    f"{name} exited with status {proc.returncode} at start: {self._log_tail(name)}"
                )
            try:
                done = subprocess.run(
                    probe, env=self._env(), capture_output=True, timeout=5, check=False
                )
            except subprocess.TimeoutExpired:
                pass
            else:
                if done.returncode == 0:
                    return
            if time.monotonic() >= deadline:
                raise OvsCommandError(
                    f"{name} not ready after {self.ready_timeout:.0f}s: {self._log_tail(name)}"
                )
            time.sleep(delay)
            delay = min(delay * 2, 0.25)

    def _log_tail(self, name: str) -> str:
        try:
            text = (self._dir() / f"{name}.log").read_text(errors="replace")
        except OSError:
            return "(no log)"
        lines = text.strip().splitlines()
        return " | ".join(lines[-5:]) or "(empty log)"


def _delete_links(names: list[str]) -> None:
    """Delete the named network interfaces (ours: created by OVS for our bridges)."""
    if not names:
        return
    from pyroute2 import IPRoute
    from pyroute2.netlink.exceptions import NetlinkError

    with IPRoute() as ipr:
        for name in names:
            with contextlib.suppress(NetlinkError):
                ipr.link("del", ifname=name)


def _check_ifname(name: str) -> None:
    if not name or len(name) > IFNAMSIZ_MAX or "/" in name or any(ch.isspace() for ch in name):
        raise InvalidInput(
            f"invalid interface name {name!r} (1-{IFNAMSIZ_MAX} chars, no / or spaces)"
        )


def _show(argv: list[str]) -> str:
    return " ".join([Path(argv[0]).name, *argv[1:]])
