"""A port's kernel receive work as a thread the switch can outrank: quake's livelock fix.

Role (paper §VI "losses at low load" and the fast-path issue's "receive
livelock handled"): when a port's frames are delivered in softirq context
on the switch's core (RPS, or the NIC interrupt on that core), the kernel
runs that work at every interrupt exit, above any user-space priority. Past
the switch's capacity the core then spends itself copying frames into a
ring that is already full and dropping them there, and forwarding collapses
(measured: a bare PACKET_MMAP forwarder falls from ~0.2 to ~0.08 Mpps when
offered 0.6 Mpps; docs/benchmarks.md).

Design: move the port's receive processing into a *threaded NAPI* kernel
thread pinned to the switch's CPUs, and stop steering it elsewhere:

* ``/sys/class/net/IF/threaded = 1``: the port's NAPI poll runs in a kthread
  (``napi/IF-<id>``, SCHED_OTHER) instead of softirq context;
* GRO on (``ETHTOOL_SGRO``): a veth only has NAPI instances when GRO (or
  XDP) is on; on a physical NIC it is normally on already;
* a veth only *uses* its NAPI for a frame that GRO could aggregate - not
  for frames from a sender with TSO on, i.e. almost never - unless an XDP
  program is attached; so on a veth a pass-through XDP program (two
  instructions: ``return XDP_PASS``, loaded with ``bpf(2)``, attached in
  driver mode with ``XDP_FLAGS_UPDATE_IF_NOEXIST``) makes every frame take
  the NAPI thread. Side effect (the kernel's): the veth *peer* turns TSO
  off while the program is attached. Without it, frames would be received
  in the sender's context on the sender's CPU - measured: the NAPI thread
  then does nothing;
* RPS off on every RX queue (``rps_cpus = 0``): otherwise the thread would
  hand each frame to the backlog softirq again;
* the NAPI kthreads pinned to ``cpus`` (the workers' CPUs), so the switch
  still pays for its own kernel receive work on its own core.

The workers run at SCHED_FIFO (``--worker-sched fifo``), so the NAPI thread
only runs when a worker sleeps (its ring is drained): receive work is done
exactly as fast as the switch consumes it, and excess frames are dropped
where it costs the switch nothing - at the sender's side of the veth (its
``tx_dropped``: the veth's 256-frame ring is full), or in the NIC's RX
ring. Without FIFO workers the thread still helps (it is scheduled fairly
instead of preempting).

Scope: the interface must be visible in the caller's network namespace
*and* its sysfs (a process started with ``ip netns exec``); ports given as
``IFNAME@NETNS`` are refused with a clear error. Everything changed is
recorded and :meth:`RxThread.restore` puts it back (also if applying failed
half-way).

Invariants: :meth:`apply` either completes or restores what it changed and
raises :class:`~.base.PortError`; :meth:`restore` is idempotent.
"""

from __future__ import annotations

import contextlib
import ctypes
import errno
import fcntl
import os
import platform
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

from .base import PortError

__all__ = ["RxThread", "attach_xdp_pass", "driver", "napi_threads"]

_SYS_BPF = {"x86_64": 321, "aarch64": 280, "ppc64le": 361, "s390x": 351}
_BPF_PROG_LOAD = 5
_BPF_PROG_TYPE_XDP = 6
_XDP_PASS = 2
_XDP_FLAGS_UPDATE_IF_NOEXIST = 1
_XDP_FLAGS_DRV_MODE = 4
_SIOCETHTOOL = 0x8946
_ETHTOOL_GDRVINFO = 0x00000003
_RTM_SETLINK = 19
_NLMSG_ERROR = 2
_NLM_F_REQUEST, _NLM_F_ACK = 1, 4
_IFLA_XDP, _IFLA_XDP_FD, _IFLA_XDP_FLAGS = 43, 1, 3
_NLA_F_NESTED = 0x8000
_ETHTOOL_GGRO = 0x0000002B
_ETHTOOL_SGRO = 0x0000002C
_SYS = Path("/sys/class/net")
_LIBC = ctypes.CDLL(None, use_errno=True)


def napi_threads(ifname: str, proc: Path = Path("/proc")) -> list[int]:
    """Pids of the kernel threads running ``ifname``'s NAPI polls (``napi/IF-<id>``)."""
    prefix = f"napi/{ifname}-"
    pids = []
    for d in proc.iterdir():
        if not d.name.isdigit():
            continue
        try:
            comm = (d / "comm").read_text().strip()
        except OSError:
            continue  # exited meanwhile
        if comm.startswith(prefix) and comm[len(prefix) :].isdigit():
            pids.append(int(d.name))
    return sorted(pids)


def _ethtool_gro(ifname: str, value: int | None) -> int:
    """Read (``value`` None) or set GRO of ``ifname`` (``SIOCETHTOOL``); the value."""
    cmd = _ETHTOOL_GGRO if value is None else _ETHTOOL_SGRO
    data = ctypes.create_string_buffer(struct.pack("II", cmd, value or 0), 8)
    ifr = struct.pack("16sP16x", ifname.encode(), ctypes.addressof(data))  # struct ifreq
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), _SIOCETHTOOL, ifr)
    return int(struct.unpack("II", data.raw)[1])


def _xdp_pass_program() -> int:
    """A loaded ``return XDP_PASS`` program (``bpf(2)``); its file descriptor."""
    nr = _SYS_BPF.get(platform.machine())
    if nr is None:
        raise PortError(f"--rx-thread: XDP loading not supported on {platform.machine()}")
    # two instructions: r0 = XDP_PASS (BPF_ALU64|BPF_MOV|BPF_K); exit (BPF_JMP|BPF_EXIT)
    insns = struct.pack("<BBhi", 0xB7, 0, 0, _XDP_PASS) + struct.pack("<BBhi", 0x95, 0, 0, 0)
    code = ctypes.create_string_buffer(insns, len(insns))
    lic = ctypes.create_string_buffer(b"GPL")
    attr = ctypes.create_string_buffer(128)  # union bpf_attr, prog-load part, rest zero
    struct.pack_into("<IIQQ", attr, 0, _BPF_PROG_TYPE_XDP, 2, ctypes.addressof(code),
                     ctypes.addressof(lic))  # fmt: skip
    fd = int(_LIBC.syscall(nr, _BPF_PROG_LOAD, attr, len(attr)))
    if fd < 0:
        err = ctypes.get_errno()
        raise OSError(err, f"loading the XDP pass program: {os.strerror(err)}")
    return fd


def _set_xdp(ifname: str, fd: int) -> None:
    """Attach program ``fd`` to ``ifname`` in driver mode (if none is there); -1 detaches.

    One ``RTM_SETLINK`` with a nested ``IFLA_XDP`` {``IFLA_XDP_FD``, ``IFLA_XDP_FLAGS``} on a
    plain rtnetlink socket (synchronous: callable from inside an event loop)."""
    flags = _XDP_FLAGS_DRV_MODE | (_XDP_FLAGS_UPDATE_IF_NOEXIST if fd >= 0 else 0)
    index = socket.if_nametoindex(ifname)
    xdp = struct.pack("=HHi", 8, _IFLA_XDP_FD, fd) + struct.pack("=HHI", 8, _IFLA_XDP_FLAGS, flags)
    attr = struct.pack("=HH", 4 + len(xdp), _IFLA_XDP | _NLA_F_NESTED) + xdp
    body = struct.pack("=BxHiII", socket.AF_UNSPEC, 0, index, 0, 0) + attr  # ifinfomsg
    hdr = struct.pack("=IHHII", 16 + len(body), _RTM_SETLINK, _NLM_F_REQUEST | _NLM_F_ACK, 1, 0)
    with socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE) as nl:
        nl.settimeout(5.0)
        nl.send(hdr + body)
        reply = nl.recv(4096)
    _, kind, _, _, _ = struct.unpack_from("=IHHII", reply)
    if kind == _NLMSG_ERROR:
        (err,) = struct.unpack_from("=i", reply, 16)
        if err:
            raise OSError(-err, os.strerror(-err))


def attach_xdp_pass(ifname: str) -> None:
    """Attach a ``return XDP_PASS`` program to ``ifname`` (driver mode; refused with
    ``EBUSY`` if it has one already). Raises OSError."""
    fd = _xdp_pass_program()
    try:
        _set_xdp(ifname, fd)
    except OSError as exc:
        if exc.errno in (errno.EBUSY, errno.EEXIST):
            raise OSError(exc.errno, "it already has an XDP program (left in place)") from None
        raise
    finally:
        os.close(fd)  # the interface holds the program now


def driver(ifname: str) -> str:
    """The driver of ``ifname`` (``ETHTOOL_GDRVINFO``: ``veth``, ``tun``, ``virtio_net``...)."""
    data = ctypes.create_string_buffer(struct.pack("I", _ETHTOOL_GDRVINFO), 196)
    ifr = struct.pack("16sP16x", ifname.encode(), ctypes.addressof(data))  # struct ifreq
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        fcntl.ioctl(s.fileno(), _SIOCETHTOOL, ifr)
    return data.raw[4:36].split(b"\0", 1)[0].decode(errors="replace")


class RxThread:
    """The receive-thread setup of one interface (see the module docstring)."""

    def __init__(self, ifname: str, cpus: Sequence[int]) -> None:
        if "@" in ifname:
            raise PortError(
                f"--rx-thread: {ifname}: only for interfaces in quake's own network namespace "
                "(start quake with 'ip netns exec NS ...' instead of IFNAME@NETNS)"
            )
        if not cpus:
            raise PortError(f"--rx-thread: {ifname}: no CPU to pin its receive thread to")
        self.ifname = ifname
        self.cpus = tuple(cpus)
        self.pids: list[int] = []
        self._undo: list[tuple[Path | None, str]] = []  # (sysfs file or None = GRO, old value)
        self.xdp = False  # our pass program is attached (veth)

    def _write(self, path: Path, value: str) -> None:
        old = path.read_text().strip()
        if old == value:
            return
        path.write_text(value + "\n")
        self._undo.append((path, old))

    def apply(self) -> None:
        """Threaded NAPI, GRO on, RPS off, NAPI threads pinned; PortError on failure."""
        dev = _SYS / self.ifname
        if not dev.exists():
            raise PortError(f"--rx-thread: no interface {self.ifname} in this namespace's sysfs")
        try:
            old_gro = _ethtool_gro(self.ifname, None)
            if not old_gro:
                _ethtool_gro(self.ifname, 1)
                self._undo.append((None, str(old_gro)))
            if driver(self.ifname) == "veth":
                attach_xdp_pass(self.ifname)
                self.xdp = True
            self._write(dev / "threaded", "1")
            for q in sorted((dev / "queues").glob("rx-*")):
                rps = q / "rps_cpus"
                if rps.exists() and int(rps.read_text().strip().replace(",", ""), 16):
                    self._write(rps, "0")
            self.pids = napi_threads(self.ifname)
            if not self.pids:
                raise PortError(f"--rx-thread: {self.ifname} has no NAPI thread after enabling it")
            for pid in self.pids:
                os.sched_setaffinity(pid, self.cpus)
        except PortError:
            self.restore()
            raise
        except OSError as exc:
            self.restore()
            raise PortError(f"--rx-thread: {self.ifname}: {exc.strerror or exc}") from exc

    def restore(self) -> None:
        """Put back what :meth:`apply` changed (latest first); errors are ignored (the
        interface may be gone already)."""
        if self.xdp:
            self.xdp = False
            with contextlib.suppress(OSError):
                _set_xdp(self.ifname, -1)
        while self._undo:
            path, old = self._undo.pop()
            try:
                if path is None:
                    _ethtool_gro(self.ifname, int(old))
                else:
                    path.write_text(f"{old}\n")
            except OSError:
                continue
