"""Build a :class:`~openvolcano.netlab.topo.Topology` in Linux network namespaces, and remove exactly that.

Role: the second half of netlab. Integration tests, benchmarks and the demo
get a :class:`Lab` - namespaces, veth pairs, addresses - start daemons in it
with :meth:`Lab.popen`, probe it with :meth:`Lab.run`, and tear it down.

Design (after pyroute2's test fixtures; *not* Mininet's ``clean.py``, which
deletes by name pattern and kills by process name):

* every name is planned up front by :func:`~openvolcano.netlab.names.plan_names`
  with a random per-lab suffix, so parallel labs never touch each other;
* creation goes through pyroute2 (``netns.create``, ``IPRoute``), and each
  object is appended to the lab's record *right after* the kernel accepted it;
  an object that failed to be created (name taken by someone else) is never
  recorded and therefore never removed;
* namespaces get sysctls before interfaces move in (moved interfaces take the
  namespace's ``default`` settings): no IPv6 DAD, router solicitations or RAs
  anywhere, and no IPv6 at all in switch namespaces, so captures and counters
  show only the traffic a test sends;
* processes started with :meth:`Lab.popen` run in their own session (process
  group == pid); teardown sends SIGTERM to that group, waits ``stop_timeout``
  seconds, then SIGKILLs it; any process still inside one of the lab's
  namespaces (a daemon's stray child) is then killed by pid, found by the
  namespace's inode, so that the namespaces really go away.

Teardown order: processes, then veth pairs (deleting one end removes its peer
at once; relying on namespace destruction would leave them for a while), then
namespaces. It is idempotent, runs on normal exit, on exception, on Ctrl-C
(SIGINT/SIGTERM are held back while it runs and delivered after) and at
interpreter exit for a lab nobody tore down; problems are collected and raised
together as one :class:`NetlabError` after everything possible was removed.
"""

from __future__ import annotations

import atexit
import errno
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Self

from pyroute2 import IPRoute, netns

from openvolcano.common.errors import OpenVolcanoError
from openvolcano.netlab.names import LabNames, plan_names
from openvolcano.netlab.topo import Host, Switch, Topology, TopologyError

__all__ = ["Lab", "NetlabError", "build"]

_NETNS_DIR = "/run/netns"
# sysctls applied in every namespace before interfaces move in.
_QUIET_IPV6 = (
    "net.ipv6.conf.all.accept_dad=0",
    "net.ipv6.conf.default.accept_dad=0",
    "net.ipv6.conf.default.dad_transmits=0",
    "net.ipv6.conf.all.router_solicitations=0",
    "net.ipv6.conf.default.router_solicitations=0",
    "net.ipv6.conf.all.accept_ra=0",
    "net.ipv6.conf.default.accept_ra=0",
)
_NO_IPV6 = ("net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")


class NetlabError(OpenVolcanoError):
    """Building, using or tearing down a lab failed; the message says which step and object."""


@dataclass
class _VethEnd:
    """Where one recorded veth end is now (its name changes when a host's end is renamed)."""

    name: str
    netns: str | None  # None: still in the root namespace


class Lab:
    """A topology built (or to be built) in network namespaces; records and removes what it created.

    Use as a context manager (``with build(topo) as lab: ...``) or call
    :meth:`teardown` yourself. ``prefix`` starts every namespace name,
    ``suffix`` (random by default) ends every name; ``stop_timeout`` is how long
    a process gets between SIGTERM and SIGKILL.
    """

    def __init__(
        self,
        topo: Topology,
        prefix: str | None = None,
        *,
        suffix: str | None = None,
        stop_timeout: float = 5.0,
    ) -> None:
        self.topo = topo
        self.names: LabNames = plan_names(topo, prefix or "ovl", suffix)
        self.stop_timeout = stop_timeout
        # Records of what exists now; written by build/popen/teardown, read by teardown.
        self._namespaces: list[str] = []
        self._veths: list[_VethEnd] = []
        self._procs: list[subprocess.Popen[Any]] = []
        # Hosts' veth ends to rename and configure once inside their namespace: (end, host).
        self._host_renames: list[tuple[_VethEnd, str]] = []
        self._built = False
        self._torn_down = False
        self._atexit_registered = False

    # -- names ------------------------------------------------------------------------------

    @property
    def suffix(self) -> str:
        """The random part of every name this lab uses."""
        return self.names.suffix

    def netns(self, node: str) -> str:
        """The namespace name of ``node``."""
        try:
            return self.names.netns[node]
        except KeyError:
            raise TopologyError(f"no node called {node!r} in the topology") from None

    def iface(self, node: str, port: str | None = None) -> str:
        """The interface name, inside ``node``'s namespace, of a switch port or a host's interface."""
        found = self.topo.node(node)
        if isinstance(found, Host):
            if port not in (None, found.iface):
                raise TopologyError(f"host {node!r} has only interface {found.iface!r}")
            return found.iface
        if port is None:
            raise TopologyError(f"switch {node!r}: which port? (lab.iface({node!r}, PORT))")
        found.port(port)  # raises for an unknown port
        try:
            return self.names.ifaces[(node, port)]
        except KeyError:
            raise TopologyError(
                f"port {node}:{port} is not linked, so it has no interface"
            ) from None

    # -- build ------------------------------------------------------------------------------

    def build(self) -> Self:
        """Create every namespace, veth pair and address; on any failure remove what was made."""
        if self._built:
            raise NetlabError("a Lab is built only once; create a new Lab to build again")
        self._built = True
        if not self._atexit_registered:
            atexit.register(self._teardown_at_exit)
            self._atexit_registered = True
        try:
            # Ctrl-C is held back while objects are created (so none is created
            # without being recorded) and raised when the with-block ends,
            # still inside this try, so that it triggers the teardown below.
            with _signals_deferred():
                self._create_namespaces()
                self._create_links()
                self._configure_nodes()
        except BaseException as exc:
            try:
                self.teardown()
            except NetlabError as cleanup:
                exc.add_note(f"cleanup after the failed build also failed: {cleanup}")
            raise
        return self

    def _create_namespaces(self) -> None:
        for node in self.topo.nodes():
            name = self.names.netns[node.name]
            if os.path.exists(os.path.join(_NETNS_DIR, name)):
                raise NetlabError(f"namespace {name} already exists (not ours); not touching it")
            try:
                netns.create(name)
            except PermissionError:
                raise NetlabError("netlab needs root (CAP_SYS_ADMIN and CAP_NET_ADMIN)") from None
            except OSError as exc:
                raise NetlabError(f"cannot create namespace {name}: {exc}") from None
            self._namespaces.append(name)
            settings = _QUIET_IPV6 + (_NO_IPV6 if isinstance(node, Switch) else ())
            self._ns_command(name, ["sysctl", "-q", "-w", *settings])
            with _ipr(name) as ipr:
                ipr.link("set", index=_index(ipr, "lo", name), state="up")

    def _create_links(self) -> None:
        with IPRoute() as ipr:
            for link in self.topo.links:
                ends = [(e.node, self._port_key(e.node, e.port)) for e in (link.a, link.b)]
                name_a, name_b = (self.names.ifaces[end] for end in ends)
                try:
                    ipr.link("add", ifname=name_a, kind="veth", peer=name_b)
                except Exception as exc:
                    raise NetlabError(f"cannot create veth {name_a}/{name_b}: {exc}") from None
                end_a, end_b = _VethEnd(name_a, None), _VethEnd(name_b, None)
                self._veths.append(end_a)  # deleting end a also deletes end b
                for end, (node, _) in ((end_a, ends[0]), (end_b, ends[1])):
                    target = self.names.netns[node]
                    try:
                        index = _index(ipr, end.name, "the root namespace")
                        ipr.link("set", index=index, net_ns_fd=target)
                    except Exception as exc:
                        raise NetlabError(f"cannot move {end.name} into {target}: {exc}") from None
                    end.netns = target
                for end, (node, port) in ((end_a, ends[0]), (end_b, ends[1])):
                    if port is None:  # a host's end: renamed and addressed by _configure_nodes
                        self._host_renames.append((end, node))

    def _configure_nodes(self) -> None:
        for end, node_name in self._host_renames:
            host = self.topo.node(node_name)
            assert isinstance(host, Host)
            ns = self.names.netns[node_name]
            with _ipr(ns) as ipr:
                index = _index(ipr, end.name, ns)
                _netlink(
                    f"rename {end.name} to {host.iface} in {ns}",
                    ipr.link,
                    "set",
                    index=index,
                    ifname=host.iface,
                )
                end.name = host.iface
                if host.mac:
                    _netlink(
                        f"set MAC of {host.iface} in {ns}",
                        ipr.link,
                        "set",
                        index=index,
                        address=host.mac,
                    )
                for address in (host.ipv4, host.ipv6):
                    if address is not None:
                        _netlink(
                            f"add {address} to {host.iface} in {ns}",
                            ipr.addr,
                            "add",
                            index=index,
                            address=str(address.ip),
                            prefixlen=address.network.prefixlen,
                        )
                _netlink(f"bring up {host.iface} in {ns}", ipr.link, "set", index=index, state="up")
        for (node, port), name in self.names.ifaces.items():
            if port is None:
                continue
            ns = self.names.netns[node]
            with _ipr(ns) as ipr:
                _netlink(
                    f"bring up {name} in {ns}",
                    ipr.link,
                    "set",
                    index=_index(ipr, name, ns),
                    state="up",
                )

    def _ns_command(self, ns: str, argv: Sequence[str]) -> None:
        try:
            result = subprocess.run(
                ["ip", "netns", "exec", ns, *argv], capture_output=True, text=True, timeout=30
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise NetlabError(f"{ns}: cannot run {argv[0]}: {exc}") from None
        if result.returncode != 0:
            raise NetlabError(f"{ns}: {' '.join(argv)} failed: {result.stderr.strip()}")

    def _port_key(self, node: str, port: str | None) -> str | None:
        return None if isinstance(self.topo.node(node), Host) else port

    # -- processes ----------------------------------------------------------------------------

    def _argv(self, node: str, argv: Sequence[str]) -> list[str]:
        if not self._built:
            raise NetlabError("build the lab before running commands in it")
        if self._torn_down:
            raise NetlabError("the lab was torn down; its namespaces are gone")
        if not argv:
            raise NetlabError("empty command")
        return ["ip", "netns", "exec", self.netns(node), *argv]

    def run(
        self,
        node: str,
        argv: Sequence[str],
        *,
        check: bool = False,
        timeout: float = 30.0,
        input: str | None = None,
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` inside ``node``'s namespace and wait; output is captured as text.

        ``check=True`` turns a non-zero exit into a :class:`NetlabError` quoting stderr.
        """
        full = self._argv(node, argv)
        try:
            result = subprocess.run(
                full, capture_output=True, text=True, timeout=timeout, input=input, check=False
            )
        except subprocess.TimeoutExpired:
            raise NetlabError(f"{node}: {' '.join(argv)} did not finish in {timeout} s") from None
        if check and result.returncode != 0:
            raise NetlabError(
                f"{node}: {' '.join(argv)} exited with {result.returncode}: {result.stderr.strip()}"
            )
        return result

    def popen(self, node: str, argv: Sequence[str], **kwargs: Any) -> subprocess.Popen[Any]:
        """Start ``argv`` in ``node``'s namespace, in its own session; teardown stops it by pid.

        ``kwargs`` go to :class:`subprocess.Popen` (``stdout``, ``text``, ``env``...).
        """
        full = self._argv(node, argv)
        kwargs["start_new_session"] = True
        proc: subprocess.Popen[Any] = subprocess.Popen(full, **kwargs)
        self._procs.append(proc)
        return proc

    def stop(self, proc: subprocess.Popen[Any]) -> int:
        """Stop one process started by :meth:`popen` now (SIGTERM, then SIGKILL); return its status."""
        if proc not in self._procs:
            raise NetlabError(f"process {proc.pid} was not started by this lab")
        status = _stop_group(proc, self.stop_timeout)
        self._procs.remove(proc)
        return status

    # -- teardown ---------------------------------------------------------------------------

    def teardown(self) -> None:
        """Remove everything this lab created (idempotent); raise one NetlabError listing failures."""
        problems: list[str] = []
        self._torn_down = self._built
        with _signals_deferred():
            for proc in list(self._procs):
                try:
                    _stop_group(proc, self.stop_timeout)
                except OSError as exc:
                    problems.append(f"stopping pid {proc.pid}: {exc}")
                self._procs.remove(proc)
            problems.extend(_kill_namespace_members(self._namespaces))
            for end in list(self._veths):
                try:
                    _delete_link(end)
                except Exception as exc:
                    problems.append(f"deleting veth {end.name}: {exc}")
                else:
                    self._veths.remove(end)
            for name in list(self._namespaces):
                try:
                    netns.remove(name)
                except FileNotFoundError:
                    pass
                except OSError as exc:
                    problems.append(f"removing namespace {name}: {exc}")
                    continue
                self._namespaces.remove(name)
        self._host_renames.clear()
        if self._atexit_registered:
            atexit.unregister(self._teardown_at_exit)
            self._atexit_registered = False
        if problems:
            raise NetlabError("lab teardown incomplete: " + "; ".join(problems))

    def _teardown_at_exit(self) -> None:
        try:
            self.teardown()
        except NetlabError as exc:
            print(f"netlab: {exc}", file=sys.stderr)

    def __enter__(self) -> Self:
        return self if self._built else self.build()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        try:
            self.teardown()
        except NetlabError as cleanup:
            if exc is None:
                raise
            exc.add_note(str(cleanup))  # do not hide the error that ended the `with`


def build(topo: Topology, prefix: str | None = None, **kwargs: Any) -> Lab:
    """Create ``topo`` now and return the :class:`Lab` (use it as a context manager)."""
    return Lab(topo, prefix, **kwargs).build()


# -- helpers (pyroute2 and process plumbing) ---------------------------------------------------


def _ipr(ns: str) -> IPRoute:
    """A netlink socket inside the existing namespace ``ns`` (never creates it)."""
    try:
        return IPRoute(netns=ns, flags=0)
    except FileNotFoundError:
        raise NetlabError(f"namespace {ns} does not exist") from None


def _index(ipr: IPRoute, name: str, where: str) -> int:
    found = ipr.link_lookup(ifname=name)
    if not found:
        raise NetlabError(f"no interface {name} in {where}")
    return int(found[0])


def _netlink(what: str, call: Any, *args: Any, **kwargs: Any) -> None:
    try:
        call(*args, **kwargs)
    except Exception as exc:
        raise NetlabError(f"cannot {what}: {exc}") from None


def _delete_link(end: _VethEnd) -> None:
    """Delete a veth end wherever it is now; a missing end or namespace means already gone."""
    if end.netns is not None and not os.path.exists(os.path.join(_NETNS_DIR, end.netns)):
        return
    with IPRoute() if end.netns is None else _ipr(end.netns) as ipr:
        found = ipr.link_lookup(ifname=end.name)
        if found:
            try:
                ipr.link("del", index=found[0])
            except Exception as exc:  # raced with the peer's namespace going away
                if getattr(exc, "code", None) != errno.ENODEV:
                    raise


def _stop_group(proc: subprocess.Popen[Any], timeout: float) -> int:
    """SIGTERM the process group led by ``proc`` (pgid == pid), wait, SIGKILL what is left.

    Linux does not reuse a pid while it names a live process group, so
    signalling the group after the leader was reaped reaches only its members.
    """
    if proc.poll() is None:
        _killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout)
        except subprocess.TimeoutExpired:
            _killpg(proc.pid, signal.SIGKILL)
            proc.wait()
    _killpg(proc.pid, signal.SIGKILL)  # stragglers of the group, if any
    for stream in (proc.stdin, proc.stdout, proc.stderr):
        if stream is not None:
            stream.close()
    return proc.returncode


def _killpg(pgid: int, sig: signal.Signals) -> None:
    with suppress(ProcessLookupError):
        os.killpg(pgid, sig)


def _kill_namespace_members(namespaces: Sequence[str], timeout: float = 5.0) -> list[str]:
    """SIGKILL, by pid, every process still inside one of ``namespaces``; wait until they are gone."""
    keys: dict[tuple[int, int], str] = {}
    for ns in namespaces:
        try:
            st = os.stat(os.path.join(_NETNS_DIR, ns))
        except FileNotFoundError:
            continue
        keys[(st.st_dev, st.st_ino)] = ns
    if not keys:
        return []
    victims = [pid for pid in _pids() if _netns_key(pid) in keys]
    for pid in victims:
        with suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)
    deadline = time.monotonic() + timeout
    while victims and time.monotonic() < deadline:
        victims = [pid for pid in victims if _netns_key(pid) in keys]
        if victims:
            time.sleep(0.01)
    return [
        f"process {pid} in {keys.get(_netns_key(pid) or (0, 0), '?')} survived SIGKILL"
        for pid in victims
    ]


def _pids() -> list[int]:
    return [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]


def _netns_key(pid: int) -> tuple[int, int] | None:
    try:
        st = os.stat(f"/proc/{pid}/ns/net")
    except OSError:
        return None
    return (st.st_dev, st.st_ino)


@contextmanager
def _signals_deferred() -> Iterator[None]:
    """Hold SIGINT/SIGTERM in this block; they are delivered (and act) when it ends.

    CPython runs pending signal handlers inside ``pthread_sigmask`` when it
    unblocks them, so a deferred Ctrl-C raises ``KeyboardInterrupt`` exactly at
    the end of the block. Children spawned inside inherit the mask; only
    short-lived helpers (``sysctl``) are.
    """
    old = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT, signal.SIGTERM})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_SETMASK, old)
