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
* RPS off on every RX queue (``rps_cpus = 0``): otherwise the thread would
  hand each frame to the backlog softirq again;
* the NAPI kthreads pinned to ``cpus`` (the workers' CPUs), so the switch
  still pays for its own kernel receive work on its own core.

The workers run at SCHED_FIFO (``--worker-sched fifo``), so the NAPI thread
only runs when a worker sleeps (its ring is drained): receive work is done
exactly as fast as the switch consumes it, and excess frames are dropped
where it costs the switch nothing - at the sender's side of the veth (its
``tx_dropped``), or in the NIC's RX ring. Without FIFO workers the thread
still helps (it is scheduled fairly instead of preempting).

Scope: the interface must be visible in the caller's network namespace
*and* its sysfs (a process started with ``ip netns exec``); ports given as
``IFNAME@NETNS`` are refused with a clear error. Everything changed is
recorded and :meth:`RxThread.restore` puts it back (also if applying failed
half-way).

Invariants: :meth:`apply` either completes or restores what it changed and
raises :class:`~.base.PortError`; :meth:`restore` is idempotent.
"""

from __future__ import annotations

import ctypes
import fcntl
import os
import socket
import struct
from collections.abc import Sequence
from pathlib import Path

from .base import PortError

__all__ = ["RxThread", "napi_threads"]

_SIOCETHTOOL = 0x8946
_ETHTOOL_GGRO = 0x0000002B
_ETHTOOL_SGRO = 0x0000002C
_SYS = Path("/sys/class/net")


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
        while self._undo:
            path, old = self._undo.pop()
            try:
                if path is None:
                    _ethtool_gro(self.ifname, int(old))
                else:
                    path.write_text(f"{old}\n")
            except OSError:
                continue
