"""TAP logical port: quake's side of a ``/dev/net/tun`` interface facing a virtual image.

Role (paper §VI): Caldera attaches virtual images (VMs, containers) to quake
through *logical* ports; a TAP device is the classic one (QEMU/libvirt hand
the other side to the guest). This backend implements
:class:`~.base.PortBackend` on the switch side of the TAP.

Design: ``open`` creates (or attaches to a persistent) TAP interface with
``IFF_TAP | IFF_NO_PI`` (each read/write is exactly one Ethernet frame, no
packet-info prefix) on a non-blocking descriptor, and brings it up unless
told not to. :meth:`recv_batch` reads frames until the kernel queue is empty
or ``max_frames`` were read (one ``read`` per frame: TUN has no batched read
interface); :meth:`send` writes one frame, and a full queue (``EAGAIN``)
or a down interface counts ``tx_dropped``. The descriptor polls readable
while frames wait, so the caller sleeps in ``poll`` when idle. A
non-persistent TAP created here disappears when the port is closed.

Invariants: single owner; only :meth:`open` raises (:class:`~.base.PortError`);
tags are never stripped (TAP frames are the guest's frames verbatim).
"""

from __future__ import annotations

import errno
import fcntl
import os
import socket
from collections.abc import Iterable

from . import _tpacket as tp
from .base import PortBackend, PortCounters, PortError, PortFeatures, speed_features

__all__ = ["TapPort"]

_TUN_DEVICE = "/dev/net/tun"
_READ_SIZE = 65536 + 18  # largest frame a TAP can carry (64 KiB payload + header, tag)
_TAP_SPEED_MBPS = 10_000  # what the kernel reports for a TAP; there is no real line rate


class TapPort(PortBackend):
    """The switch end of a TAP interface ``name`` (created if it does not exist)."""

    def __init__(self, name: str, *, bring_up: bool = True) -> None:
        if not name or len(name) > 15 or "/" in name:
            raise ValueError(f"bad interface name {name!r}")
        self.name = name
        self.counters = PortCounters()
        self.bring_up = bring_up
        self._fd = -1
        # ioctl socket for the interface's flags and MAC (a TUN fd does not take SIOCGIF*)
        self._ctl: socket.socket | None = None

    # --- lifecycle ------------------------------------------------------------
    def open(self) -> None:
        if self._fd >= 0:
            return
        try:
            fd = os.open(_TUN_DEVICE, os.O_RDWR | os.O_NONBLOCK | os.O_CLOEXEC)
        except OSError as exc:
            raise PortError(
                f"cannot open {_TUN_DEVICE} for port {self.name}: {exc.strerror}"
            ) from exc
        ctl = socket.socket(socket.AF_INET, socket.SOCK_DGRAM | socket.SOCK_CLOEXEC)
        try:
            ifr = tp.IFREQ_FLAGS.pack(self.name.encode(), tp.IFF_TAP | tp.IFF_NO_PI)
            fcntl.ioctl(fd, tp.TUNSETIFF, ifr)
            if self.bring_up:
                tp.set_if_up(ctl.fileno(), self.name)
        except OSError as exc:
            os.close(fd)
            ctl.close()
            raise PortError(f"cannot attach TAP port {self.name}: {exc.strerror or exc}") from exc
        self._fd, self._ctl = fd, ctl

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1
        if self._ctl is not None:
            self._ctl.close()
            self._ctl = None

    def fileno(self) -> int:
        if self._fd < 0:
            raise PortError(f"port {self.name} is not open")
        return self._fd

    # --- link -----------------------------------------------------------------
    @property
    def link_up(self) -> bool:
        if self._ctl is None:
            return False
        try:
            flags = tp.if_flags(self._ctl.fileno(), self.name)
        except OSError:
            return False
        return bool(flags & tp.IFF_UP and flags & tp.IFF_RUNNING)

    @property
    def hw_addr(self) -> int:
        if self._ctl is None:
            return 0
        try:
            return tp.if_hwaddr(self._ctl.fileno(), self.name)
        except OSError:
            return 0

    def features(self) -> PortFeatures:
        return speed_features(_TAP_SPEED_MBPS)

    # --- frames -----------------------------------------------------------------
    def recv_batch(self, max_frames: int) -> list[bytes]:
        out: list[bytes] = []
        fd = self._fd
        if fd < 0:
            return out
        read = os.read
        nbytes = 0
        while len(out) < max_frames:
            try:
                frame = read(fd, _READ_SIZE)
            except BlockingIOError:
                break
            except OSError:  # EIO while the interface is down, EBADFD...
                self.counters.rx_errors += 1
                break
            if not frame:
                break
            out.append(frame)
            nbytes += len(frame)
        self.counters.rx_packets += len(out)
        self.counters.rx_bytes += nbytes
        return out

    def send(self, frame: bytes) -> bool:
        return self.send_batch((frame,)) == 1

    def send_batch(self, frames: Iterable[bytes]) -> int:
        c = self.counters
        fd = self._fd
        sent = nbytes = dropped = 0
        write = os.write
        for frame in frames:
            if fd < 0:
                dropped += 1
                continue
            try:
                write(fd, frame)
            except OSError as exc:
                if exc.errno in (errno.EAGAIN, errno.EIO, errno.ENOBUFS):
                    dropped += 1  # queue full or interface down
                else:
                    c.tx_errors += 1
                continue
            sent += 1
            nbytes += len(frame)
        c.tx_packets += sent
        c.tx_bytes += nbytes
        c.tx_dropped += dropped
        return sent
