"""Harness for the third-party controller interop tests: controllers and switches under test.

Role: the paper's Caldera switch ("quake") has to work with controllers we did
not write. These tests run real third-party controllers - an os-ken learning
switch and Faucet - against a *switch under test* that is either Open vSwitch
(the reference, runnable today) or quake, chosen by one parameter, in a netlab
topology of namespaced hosts.

Design (see docs/interop.md):

* **Everything OpenFlow lives in the switch's namespace.** The switch daemon
  (``ovs-vswitchd`` or ``openvolcano quake``) and the controller both run
  inside netlab's switch namespace (``lab.popen``), and the switch connects to
  ``tcp:127.0.0.1:PORT`` there. A loopback address in the root namespace would
  not be reachable from the switch namespace; a fresh namespace also means the
  well-known ports (6653, 9302) are always free, and nothing the tests do is
  visible outside the lab.
* **OVS in the namespace**: :class:`OvsSwitch` reuses netlab's
  :class:`~openvolcano.netlab.ovs.PrivateOvs`, with ``ovs-vswitchd`` started
  through a two-line wrapper (``exec ip netns exec NS ovs-vswitchd ...``, the
  pid stays the daemon's) so that its userspace (netdev) bridge attaches to the
  switch ports where netlab put them. ``ovsdb-server`` stays in the root
  namespace; it only has unix sockets in PrivateOvs's private temp dir.
  The bridge gets its controller only once every port is attached and LIVE:
  ports that appear during the handshake race the controller's port discovery
  (Faucet then never sees such a port up).
* **quake**: :class:`QuakeSwitch` runs ``openvolcano quake --dpid --port IF=NO...
  --controller tcp:127.0.0.1:PORT --fail-mode M`` with ``lab.popen``. It is
  *available* exactly when ``openvolcano quake --help`` succeeds
  (:func:`quake_unavailable_reason`).
* **Controllers** (:class:`OsKenController`, :class:`FaucetController`) run
  with their own temp directory for config and logs; :meth:`Controller.start`
  returns once the process listens on its port (read from
  ``/proc/PID/net/tcp*``, which shows the sockets of the process's own network
  namespace, after checking the process is already in the lab's namespace),
  bounded by a deadline, and fails with the log tail if the process exits.
  Faucet runs from its own virtualenv (``.venv-faucet``, ``make faucet-venv``):
  it pins an os-ken 3.x and a prometheus-client that conflict with ours.

Invariants: processes are started only through ``lab.popen`` and stopped only
by pid (``lab.stop``), and netlab's teardown stops whatever is left; every
wait polls with a deadline; :func:`diagnostics` gathers the logs (and, for
OVS, the flow table) that failing assertions attach to their message.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import replace
from pathlib import Path
from typing import IO, TypeVar

from openvolcano.netlab.build import Lab
from openvolcano.netlab.ovs import PrivateOvs, find_binaries, unique_name
from openvolcano.netlab.topo import Switch

REPO_ROOT = Path(__file__).resolve().parents[3]
APPS_DIR = Path(__file__).resolve().parent / "apps"
VENV_BIN = Path(sys.executable).parent
FAUCET_VENV = Path(os.environ.get("OPENVOLCANO_FAUCET_VENV", str(REPO_ROOT / ".venv-faucet")))
OPENFLOW_PORT = 6653
FAIL_MODES = ("secure", "standalone")
SWITCH_KINDS = ("ovs", "quake")
_LOG_TAIL_LINES = 40


class HarnessError(AssertionError):
    """A controller or switch did not come up, or a wait ran out; the message carries logs."""


def wait_for(
    what: str, probe: Callable[[], bool], timeout: float, context: Callable[[], str]
) -> None:
    """Poll ``probe`` until it is true; after ``timeout`` seconds raise with ``context()``."""
    deadline = time.monotonic() + timeout
    delay = 0.05
    while not probe():
        if time.monotonic() >= deadline:
            raise HarnessError(f"timed out after {timeout:.0f}s waiting for {what}\n{context()}")
        time.sleep(delay)
        delay = min(delay * 2, 0.5)


def tail(path: Path, lines: int = _LOG_TAIL_LINES) -> str:
    """The last ``lines`` lines of a log file, labelled with its name."""
    try:
        text = path.read_text(errors="replace")
    except OSError:
        return f"--- {path.name}: (missing)"
    body = "\n".join(text.rstrip().splitlines()[-lines:]) or "(empty)"
    return f"--- {path.name} (last {lines} lines):\n{body}"


def _netns_inode(lab: Lab, node: str) -> int:
    return os.stat(f"/run/netns/{lab.netns(node)}").st_ino


def _listening(pid: int, port: int, netns_inode: int) -> bool:
    """Whether process ``pid``, already inside the namespace ``netns_inode``, has a TCP listener on ``port``."""
    try:
        if os.stat(f"/proc/{pid}/ns/net").st_ino != netns_inode:
            return False  # `ip netns exec` has not switched namespace yet
        tables = [Path(f"/proc/{pid}/net/{t}").read_text() for t in ("tcp", "tcp6")]
    except OSError:
        return False
    want = f":{port:04X}"
    for table in tables:
        for line in table.splitlines()[1:]:
            fields = line.split()
            if len(fields) > 3 and fields[1].endswith(want) and fields[3] == "0A":  # LISTEN
                return True
    return False


# -- controllers -------------------------------------------------------------------------------


class Controller(ABC):
    """A third-party OpenFlow controller process in ``node``'s namespace, listening on ``port``."""

    name = "controller"

    def __init__(self, lab: Lab, node: str, *, port: int = OPENFLOW_PORT) -> None:
        self.lab, self.node, self.port = lab, node, port
        self.dir = Path(tempfile.mkdtemp(prefix=f"ov-{self.name}-"))
        self.log_path = self.dir / f"{self.name}.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None
        self.starts = 0

    @abstractmethod
    def argv(self) -> list[str]:
        """The command line, run inside the switch namespace."""

    def env(self) -> dict[str, str]:
        return dict(os.environ)

    def logs(self) -> list[Path]:
        """Log files worth showing when a test fails."""
        return [self.log_path]

    @property
    def running(self) -> bool:
        return self._proc is not None and self._proc.poll() is None

    def start(self, timeout: float = 30.0) -> None:
        """Start the process and return once it listens on :attr:`port`."""
        if self.running:
            raise HarnessError(f"{self.name} is already running")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self._log.write(f"=== start #{self.starts + 1}: {' '.join(self.argv())}\n".encode())
        self._log.flush()
        proc: subprocess.Popen[bytes] = self.lab.popen(
            self.node,
            self.argv(),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            env=self.env(),
            cwd=self.dir,
        )
        self._proc = proc
        self.starts += 1
        inode = _netns_inode(self.lab, self.node)

        def up() -> bool:
            if proc.poll() is not None:
                raise HarnessError(
                    f"{self.name} exited with status {proc.returncode} at start\n{self.report()}"
                )
            return _listening(proc.pid, self.port, inode)

        wait_for(f"{self.name} to listen on port {self.port}", up, timeout, self.report)

    def stop(self) -> None:
        """Stop the process by pid (SIGTERM, then SIGKILL); idempotent."""
        if self._proc is not None:
            if self._proc.poll() is None:
                self.lab.stop(self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def restart(self, timeout: float = 30.0) -> None:
        self.stop()
        self.start(timeout)

    def log_text(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.logs() if p.exists())

    def wait_for_log(self, pattern: str, *, count: int = 1, timeout: float = 20.0) -> None:
        """Wait until ``pattern`` (a regex) occurs at least ``count`` times in the logs."""
        rx = re.compile(pattern)
        wait_for(
            f"{count}x {pattern!r} in the {self.name} log",
            lambda: len(rx.findall(self.log_text())) >= count,
            timeout,
            self.report,
        )

    def report(self) -> str:
        return "\n".join(tail(p) for p in self.logs())

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


class OsKenController(Controller):
    """A MAC-learning switch app (``apps/learning_switch_13.py``) on the project's os-ken."""

    name = "osken"
    CONNECTED = r"switch connected dpid="

    def argv(self) -> list[str]:
        return [
            sys.executable,
            str(APPS_DIR / "run_osken.py"),
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            str(APPS_DIR / "learning_switch_13.py"),
        ]


def faucet_unavailable_reason() -> str | None:
    """Why Faucet cannot run here (its virtualenv is missing), or None."""
    if (FAUCET_VENV / "bin" / "faucet").is_file():
        return None
    return f"Faucet's virtualenv {FAUCET_VENV} is missing: run `make faucet-venv`"


class FaucetController(Controller):
    """Faucet from ``.venv-faucet``, configured by :meth:`write_config`; Prometheus on loopback."""

    name = "faucet"
    CONNECTED = r"Cold start configuring DP"
    PROMETHEUS_PORT = 9302
    # Valve's port lines: "... s1 Port 3 (3) up", "... (3) configured" (cold start), "... down".
    _PORT_STATE = re.compile(r"\bPort (\d+) \(.*?\) (up|configured|down)$", re.MULTILINE)

    def __init__(self, lab: Lab, node: str, *, port: int = OPENFLOW_PORT) -> None:
        super().__init__(lab, node, port=port)
        self.config_path = self.dir / "faucet.yaml"
        self.faucet_log = self.dir / "faucet.log"
        self.exception_log = self.dir / "faucet_exception.log"

    def write_config(self, yaml_text: str) -> None:
        self.config_path.write_text(yaml_text)

    def argv(self) -> list[str]:
        return [
            str(FAUCET_VENV / "bin" / "faucet"),
            f"--ryu-ofp-tcp-listen-port={self.port}",
            "--ryu-ofp-listen-host=127.0.0.1",
        ]

    def env(self) -> dict[str, str]:
        env = dict(os.environ)
        # faucet execs `osken-manager` from PATH: it must be its own venv's (os-ken 3.x).
        env["PATH"] = f"{FAUCET_VENV / 'bin'}{os.pathsep}{env.get('PATH', '')}"
        env.pop("PYTHONPATH", None)
        env.update(
            FAUCET_CONFIG=str(self.config_path),
            FAUCET_LOG=str(self.faucet_log),
            FAUCET_EXCEPTION_LOG=str(self.exception_log),
            FAUCET_EVENT_SOCK=str(self.dir / "event.sock"),
            FAUCET_PROMETHEUS_ADDR="127.0.0.1",
            FAUCET_PROMETHEUS_PORT=str(self.PROMETHEUS_PORT),
        )
        return env

    def logs(self) -> list[Path]:
        return [self.log_path, self.faucet_log, self.exception_log]

    def start(self, timeout: float = 45.0) -> None:
        if not self.config_path.is_file():
            raise HarnessError("FaucetController: call write_config() before start()")
        super().start(timeout)

    def ports_up(self) -> set[int]:
        """Ports whose latest state in Faucet's log is up (``up``, or ``configured`` at cold start)."""
        state: dict[int, bool] = {}
        for m in self._PORT_STATE.finditer(self.log_text()):
            state[int(m[1])] = m[2] != "down"
        return {port for port, up in state.items() if up}

    def wait_ports_up(self, ports: Iterable[int], *, timeout: float = 30.0) -> None:
        """Wait until Faucet has every port of ``ports`` up, so that it programmed their VLANs."""
        want = set(ports)
        wait_for(
            f"Faucet to have ports {sorted(want)} up",
            lambda: want <= self.ports_up(),
            timeout,
            self.report,
        )


# -- switches under test ---------------------------------------------------------------------


def quake_unavailable_reason() -> str | None:
    """Why quake cannot be tested yet (``openvolcano quake --help`` fails), or None."""
    exe = VENV_BIN / "openvolcano"
    try:
        done = subprocess.run(
            [str(exe), "quake", "--help"], capture_output=True, text=True, timeout=60, check=False
        )
    except (OSError, subprocess.TimeoutExpired) as exc:
        return f"`openvolcano quake --help` could not run: {exc}"
    if done.returncode != 0:
        return "the quake daemon is not there yet (`openvolcano quake --help` fails)"
    return None


class SwitchUnderTest(ABC):
    """An OpenFlow 1.3 switch attached to the ports of netlab switch ``node``."""

    kind = "?"

    def __init__(self, lab: Lab, node: str) -> None:
        self.lab, self.node = lab, node
        found = lab.topo.node(node)
        if not isinstance(found, Switch):
            raise HarnessError(f"{node!r} is not a switch in the topology")
        self.dpid = int(found.dpid) if found.dpid is not None else 1
        # (OpenFlow port number, interface name) of every linked port, by port number.
        self.ports = sorted((p.port_no, lab.iface(node, p.name)) for p in found.ports)

    @abstractmethod
    def start(self, controller_port: int = OPENFLOW_PORT, fail_mode: str = "secure") -> None:
        """Start switching, connected (and reconnecting) to ``tcp:127.0.0.1:controller_port``."""

    @abstractmethod
    def stop(self) -> None:
        """Stop and remove what :meth:`start` created; idempotent."""

    def report(self) -> str:
        return ""


class OvsSwitch(SwitchUnderTest):
    """A private Open vSwitch whose ``ovs-vswitchd`` runs in the switch namespace."""

    kind = "ovs"

    def __init__(self, lab: Lab, node: str) -> None:
        super().__init__(lab, node)
        self.bridge = unique_name("ovti")
        self.ovs: PrivateOvs | None = None
        self._wrapper_dir: Path | None = None

    def start(self, controller_port: int = OPENFLOW_PORT, fail_mode: str = "secure") -> None:
        if fail_mode not in FAIL_MODES:
            raise HarnessError(f"fail mode {fail_mode!r} is not one of {FAIL_MODES}")
        binaries = find_binaries()
        self._wrapper_dir = Path(tempfile.mkdtemp(prefix="ov-vswitchd-"))
        wrapper = self._wrapper_dir / "ovs-vswitchd"
        netns = self.lab.netns(self.node)
        wrapper.write_text(f'#!/bin/sh\nexec ip netns exec {netns} {binaries.ovs_vswitchd} "$@"\n')
        wrapper.chmod(0o755)
        self.ovs = PrivateOvs(binaries=replace(binaries, ovs_vswitchd=str(wrapper)))
        self.ovs.start()
        # Every port is attached and live *before* the bridge gets its controller: a
        # port added (or coming up) during the OpenFlow handshake races the
        # controller's port discovery. Faucet drops a PORT_STATUS that arrives after
        # its PORT_DESC reply but before its cold start, so such a port never comes
        # "up" there and its traffic hits the table-0 drop.
        self.ovs.add_bridge(self.bridge, fail_mode=fail_mode, datapath_id=self.dpid)
        for port_no, ifname in self.ports:
            self.ovs.add_port(self.bridge, ifname, ofport=port_no)
        wait_for(
            f"ports {[n for n, _ in self.ports]} of {self.bridge} to be live",
            self._ports_live,
            15.0,
            self.report,
        )
        self.ovs.vsctl(
            "--",
            "set-controller",
            self.bridge,
            f"tcp:127.0.0.1:{controller_port}",
            "--",
            "set",
            "controller",
            self.bridge,
            # Out-of-band (no hidden in-band flows) and quick reconnection after a restart.
            "connection_mode=out-of-band",
            "max_backoff=1000",
            # No inactivity probes: a dead controller is seen when its TCP connection
            # closes, and fail-open (standalone) starts at once rather than after 3 probes.
            "inactivity_probe=0",
        )

    def port_states(self) -> dict[int, str]:
        """OpenFlow port number -> ``state`` as ``ovs-ofctl dump-ports-desc`` shows it."""
        if self.ovs is None:
            return {}
        states: dict[int, str] = {}
        current: int | None = None
        for line in self.ovs.ofctl("dump-ports-desc", self.bridge).splitlines():
            if m := re.match(r"\s*(\w+)\(", line):  # " 1(ifname): ..." or " LOCAL(br): ..."
                current = int(m[1]) if m[1].isdigit() else None
            elif (m := re.match(r"\s*state:\s*(.*)", line)) and current is not None:
                states[current] = m[1].strip()
        return states

    def _ports_live(self) -> bool:
        states = self.port_states()
        return all(states.get(port_no, "").split() == ["LIVE"] for port_no, _ in self.ports)

    def connected(self) -> bool:
        """Whether OVS reports an established controller connection."""
        if self.ovs is None:
            return False
        return self.ovs.vsctl("get", "controller", self.bridge, "is_connected").strip() == "true"

    def stop(self) -> None:
        if self.ovs is not None:
            self.ovs.stop()
            self.ovs = None
        if self._wrapper_dir is not None:
            shutil.rmtree(self._wrapper_dir, ignore_errors=True)
            self._wrapper_dir = None

    def report(self) -> str:
        if self.ovs is None or self.ovs.dir is None:
            return "--- ovs: not running"
        parts = [tail(self.ovs.dir / "ovs-vswitchd.log")]
        try:
            flows = "\n".join(self.ovs.dump_flows(self.bridge))
        except Exception as exc:  # a report must never hide the original failure
            flows = f"(dump-flows failed: {exc})"
        parts.append(f"--- flows of {self.bridge}:\n{flows}")
        try:
            parts.append(f"--- OpenFlow port states: {self.port_states()}")
        except Exception as exc:
            parts.append(f"(dump-ports-desc failed: {exc})")
        return "\n".join(parts)


class QuakeSwitch(SwitchUnderTest):
    """``openvolcano quake`` inside the switch namespace, ports as ``--port IFNAME=OFPORT``."""

    kind = "quake"
    workers = 0  # >= 1: the fast path (--workers N: worker processes forward)

    def __init__(self, lab: Lab, node: str) -> None:
        super().__init__(lab, node)
        self.dir = Path(tempfile.mkdtemp(prefix="ov-quake-"))
        self.log_path = self.dir / "quake.out"
        self._proc: subprocess.Popen[bytes] | None = None
        self._log: IO[bytes] | None = None

    def argv(self, controller_port: int, fail_mode: str) -> list[str]:
        argv = [str(VENV_BIN / "openvolcano"), "quake", "--dpid", f"0x{self.dpid:x}"]
        for port_no, ifname in self.ports:
            argv += ["--port", f"{ifname}={port_no}"]
        argv += ["--controller", f"tcp:127.0.0.1:{controller_port}", "--fail-mode", fail_mode]
        if self.workers:
            argv += ["--workers", str(self.workers)]
        return argv

    def start(self, controller_port: int = OPENFLOW_PORT, fail_mode: str = "secure") -> None:
        if fail_mode not in FAIL_MODES:
            raise HarnessError(f"fail mode {fail_mode!r} is not one of {FAIL_MODES}")
        self._log = open(self.log_path, "ab")  # noqa: SIM115 - closed by stop()
        self._proc = self.lab.popen(
            self.node,
            self.argv(controller_port, fail_mode),
            stdin=subprocess.DEVNULL,
            stdout=self._log,
            stderr=subprocess.STDOUT,
            cwd=self.dir,
        )

    def stop(self) -> None:
        if self._proc is not None:
            if self._proc.poll() is None:
                self.lab.stop(self._proc)
            self._proc = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def report(self) -> str:
        status = "" if self._proc is None else f" (exit status {self._proc.poll()})"
        return f"{tail(self.log_path)}{status}"

    def cleanup(self) -> None:
        self.stop()
        shutil.rmtree(self.dir, ignore_errors=True)


def make_switch(kind: str, lab: Lab, node: str) -> SwitchUnderTest:
    """The switch under test of ``kind`` (``"ovs"`` or ``"quake"``) for netlab switch ``node``."""
    if kind == "ovs":
        return OvsSwitch(lab, node)
    if kind == "quake":
        return QuakeSwitch(lab, node)
    raise HarnessError(f"unknown switch kind {kind!r}; expected one of {SWITCH_KINDS}")


# -- traffic and reports ---------------------------------------------------------------------


def diagnostics(switch: SwitchUnderTest, controllers: Iterable[Controller]) -> str:
    """Everything worth reading when an interop assertion fails."""
    parts = [f"=== switch under test: {switch.kind}", switch.report()]
    for ctl in controllers:
        parts += [f"=== controller: {ctl.name}", ctl.report()]
    return "\n".join(parts)


def ping(lab: Lab, host: str, address: str, *, count: int = 2, wait: float = 1.0) -> bool:
    """Whether ``host`` gets at least one echo reply from ``address`` (bounded: ~count*wait s)."""
    done = lab.run(
        host,
        ["ping", "-n", "-q", "-c", str(count), "-i", "0.2", "-W", f"{wait:g}", address],
        timeout=count * wait + 10,
    )
    return done.returncode == 0


def wait_ping(lab: Lab, host: str, address: str, *, timeout: float = 20.0) -> bool:
    """Ping until one answer arrives or ``timeout`` passes (for learning/reconnect delays)."""
    deadline = time.monotonic() + timeout
    while True:
        if ping(lab, host, address, count=1, wait=1.0):
            return True
        if time.monotonic() >= deadline:
            return False


def add_vlan_interface(lab: Lab, host: str, *, vid: int, address: str, name: str = "") -> str:
    """Give ``host`` a VLAN ``vid`` interface with ``address`` (``"10.0.0.3/24"``); return its name.

    The interface is a TAP device fed by ``apps/vlan_tagger.py`` (started with
    ``lab.popen``, so the lab stops it), because the kernel may lack 802.1Q
    interfaces. The host's own interface carries the tagged frames.
    """
    name = name or f"vlan{vid}"
    argv = [sys.executable, str(APPS_DIR / "vlan_tagger.py"), "--iface", lab.iface(host)]
    proc = lab.popen(
        host,
        [*argv, "--tap", name, "--vid", str(vid)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )

    def exists() -> bool:
        if proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise HarnessError(f"vlan_tagger in {host} exited with {proc.returncode}: {err}")
        return lab.run(host, ["ip", "link", "show", "dev", name]).returncode == 0

    wait_for(f"TAP device {name} in {host}", exists, 15.0, lambda: "")
    lab.run(host, ["ip", "addr", "add", address, "dev", name], check=True)
    lab.run(host, ["ip", "link", "set", "dev", name, "up"], check=True)
    return name


def flush_neighbours(lab: Lab, *hosts: str) -> None:
    """Forget ARP entries, so the next ping needs a broadcast the switch must handle anew."""
    for host in hosts:
        lab.run(host, ["ip", "neigh", "flush", "all"], check=True)


C = TypeVar("C", bound=Controller)


class Bench:
    """One interop set-up: a built lab, its switch under test, and the controllers started for it.

    Its assertions attach :func:`diagnostics` to the failure message.
    """

    def __init__(self, lab: Lab, switch: SwitchUnderTest) -> None:
        self.lab, self.switch = lab, switch
        self.controllers: list[Controller] = []

    def controller(self, ctl: C) -> C:
        """Record ``ctl`` so that reports show its logs and :meth:`cleanup` stops it."""
        self.controllers.append(ctl)
        return ctl

    def report(self) -> str:
        return diagnostics(self.switch, self.controllers)

    def assert_reach(self, host: str, address: str, *, timeout: float = 20.0) -> None:
        if not wait_ping(self.lab, host, address, timeout=timeout):
            raise AssertionError(
                f"{host} got no answer from {address} within {timeout:.0f}s "
                f"(switch {self.switch.kind})\n{self.report()}"
            )

    def assert_no_reach(self, host: str, address: str) -> None:
        if ping(self.lab, host, address, count=2, wait=1.0):
            raise AssertionError(
                f"{host} got an answer from {address} but must not (switch {self.switch.kind})"
                f"\n{self.report()}"
            )

    def cleanup(self) -> None:
        """Stop controllers, then the switch; the lab itself is torn down by its owner."""
        for ctl in reversed(self.controllers):
            ctl.cleanup()
        self.switch.stop()
        if isinstance(self.switch, QuakeSwitch):
            self.switch.cleanup()
