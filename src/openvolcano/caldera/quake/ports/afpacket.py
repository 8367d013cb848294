"""AF_PACKET ports: quake on real Linux interfaces (physical NICs, veth, TAP).

Role (paper §VI): the physical and logical ports of a Caldera server. This
is the functional backend - one ``recvmsg`` per frame; a later backend adds
PACKET_MMAP rings behind the same :class:`~.base.PortBackend` interface.

Design:

* ``socket(AF_PACKET, SOCK_RAW)`` bound to the interface for ``ETH_P_ALL``,
  non-blocking, promiscuous through ``PACKET_ADD_MEMBERSHIP``/``PACKET_MR_PROMISC``
  (membership, not the IFF_PROMISC flag: it ends with the socket).
* Our own transmissions are not read back: ``PACKET_IGNORE_OUTGOING`` where
  the kernel has it (4.20+), and frames with ``pkttype == PACKET_OUTGOING``
  are skipped in any case.
* The kernel strips the 802.1Q tag of received frames into skb metadata;
  with ``PACKET_AUXDATA`` enabled each frame carries ``tpacket_auxdata`` and
  :func:`restore_vlan` puts the tag back, so VLAN matches see the frame as
  it was on the wire.
* Offloads: the socket has ``PACKET_VNET_HDR``, so every received frame
  comes with a virtio-net header saying whether its L4 checksum is still
  partial (TX checksum offload of a local sender) or whether it is a
  TSO/USO super-frame; :func:`.vnet.normalize` finishes the checksum or
  segments the frame in software, so quake forwards only complete,
  MTU-sized frames with the interfaces' offloads left at their defaults.
  Sent frames carry the all-zero header (nothing left for the kernel to do).
* Link state (carrier) is followed through rtnetlink: a second socket bound
  to ``RTMGRP_LINK`` wakes the runtime; the state itself is re-read with
  ``SIOCGIFFLAGS`` (IFF_UP and IFF_RUNNING) on the packet socket.
* ``netns=NAME`` opens the port in another network namespace
  (``/var/run/netns/NAME``): the sockets are created by a short-lived thread
  that entered it, and sockets stay bound to the namespace they were created
  in. All later ioctls go through those sockets, so they see that namespace.

Invariants: ``recv_batch``/``send`` never raise (errors are counted);
``recv_batch`` reads at most ``max_frames`` frames from the kernel, but the
segments of one GSO super-frame are returned together (a batch may exceed
``max_frames`` by them: nothing is left behind that no readiness event would
announce);
``close`` is idempotent and releases both sockets.
"""

from __future__ import annotations

import array
import contextlib
import ctypes
import errno
import fcntl
import os
import socket
import struct
import threading
from collections.abc import Callable
from typing import TypeVar

from .base import PortBackend, PortCounters, PortError, PortFeatures, speed_features
from .vnet import PACKET_VNET_HDR, TX_HDR, VNET_HDR, VnetError, normalize

__all__ = ["AfPacketPort", "restore_vlan", "run_in_netns"]

ETH_P_ALL = 0x0003
SOL_PACKET = 263
PACKET_ADD_MEMBERSHIP = 1
PACKET_MR_PROMISC = 1
PACKET_AUXDATA = 8
PACKET_IGNORE_OUTGOING = 23
PACKET_OUTGOING = 4
TP_STATUS_VLAN_VALID = 0x10
TP_STATUS_VLAN_TPID_VALID = 0x40
SIOCGIFFLAGS = 0x8913
SIOCGIFHWADDR = 0x8927
SIOCGIFINDEX = 0x8933
SIOCETHTOOL = 0x8946
ETHTOOL_GSET = 0x1
IFF_UP = 0x1
IFF_RUNNING = 0x40
RTMGRP_LINK = 0x1
RTM_NEWLINK = 16
RTM_DELLINK = 17
CLONE_NEWNET = 0x40000000
IFNAMSIZ = 16

# struct tpacket_auxdata { __u32 tp_status, tp_len, tp_snaplen;
#                          __u16 tp_mac, tp_net, tp_vlan_tci, tp_vlan_tpid; };
AUXDATA = struct.Struct("=IIIHHHH")
assert AUXDATA.size == 20
# struct packet_mreq { int mr_ifindex; unsigned short mr_type, mr_alen; unsigned char mr_address[8]; };
PACKET_MREQ = struct.Struct("=iHH8s")
assert PACKET_MREQ.size == 16
# struct nlmsghdr { __u32 nlmsg_len; __u16 nlmsg_type, nlmsg_flags; __u32 nlmsg_seq, nlmsg_pid; };
NLMSGHDR = struct.Struct("=IHHII")
# struct ifinfomsg { unsigned char ifi_family, pad; unsigned short ifi_type; int ifi_index;
#                    unsigned ifi_flags, ifi_change; };
IFINFOMSG = struct.Struct("=BBHiII")
assert NLMSGHDR.size == IFINFOMSG.size == 16
# struct ethtool_cmd (legacy GSET): cmd, supported, advertising (u32); speed (u16); duplex, port,
# phy_address, transceiver, autoneg, mdio_support (u8); maxtxpkt, maxrxpkt (u32); speed_hi (u16);
# eth_tp_mdix, eth_tp_mdix_ctrl (u8); lp_advertising, reserved[2] (u32).
ETHTOOL_CMD = struct.Struct("=IIIHBBBBBBIIHBBIII")
assert ETHTOOL_CMD.size == 44

_RECV_BUF = VNET_HDR.size + 65536 + 256  # a 64 KiB GSO super-frame and its headers
_AUX_SPACE = socket.CMSG_SPACE(AUXDATA.size)
_T = TypeVar("_T")


def restore_vlan(frame: bytes, ancdata: list[tuple[int, int, bytes]]) -> bytes:
    """``frame`` with the 802.1Q/802.1ad tag the kernel stripped (from PACKET_AUXDATA) put back."""
    for level, kind, data in ancdata:
        if level != SOL_PACKET or kind != PACKET_AUXDATA or len(data) < AUXDATA.size:
            continue
        status, _len, _snap, _mac, _net, tci, tpid = AUXDATA.unpack_from(data)
        if status & TP_STATUS_VLAN_VALID and len(frame) >= 12:
            if not status & TP_STATUS_VLAN_TPID_VALID or not tpid:
                tpid = 0x8100
            return frame[:12] + struct.pack("!HH", tpid, tci) + frame[12:]
    return frame


def run_in_netns(netns: str | None, fn: Callable[[], _T]) -> _T:
    """Run ``fn`` in network namespace ``netns`` (None: here) and return its result.

    A fresh thread enters the namespace, so the caller's thread never changes
    namespace. Raises :class:`PortError` if the namespace cannot be entered.
    """
    if netns is None:
        return fn()
    path = os.path.join("/var/run/netns", netns)
    result: list[_T] = []
    failure: list[BaseException] = []

    def worker() -> None:
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except OSError as exc:
            failure.append(PortError(f"network namespace {netns!r}: {exc.strerror}"))
            return
        try:
            libc = ctypes.CDLL(None, use_errno=True)
            if libc.setns(fd, CLONE_NEWNET) != 0:
                err = ctypes.get_errno()
                failure.append(PortError(f"cannot enter namespace {netns!r}: {os.strerror(err)}"))
                return
            result.append(fn())
        except BaseException as exc:  # re-raised in the caller's thread below
            failure.append(exc)
        finally:
            os.close(fd)

    t = threading.Thread(target=worker, name=f"netns-{netns}")
    t.start()
    t.join()
    if failure:
        raise failure[0]
    return result[0]


def _ifreq(name: str, payload: bytes = b"") -> bytes:
    return struct.pack(f"{IFNAMSIZ}s", name.encode()) + payload.ljust(24, b"\0")


class AfPacketPort(PortBackend):
    """A Linux interface as a quake port (see the module docstring)."""

    def __init__(self, ifname: str, *, netns: str | None = None) -> None:
        if not 0 < len(ifname.encode()) < IFNAMSIZ or "/" in ifname:
            raise PortError(f"invalid interface name {ifname!r}")
        self.name = ifname
        self.netns = netns
        self.counters = PortCounters()
        self.ifindex = 0
        self._sock: socket.socket | None = None
        self._nl: socket.socket | None = None
        self._link_up = False
        self._hw_addr = 0
        self._features = PortFeatures()

    # --- lifecycle ----------------------------------------------------------------
    def open(self) -> None:
        if self._sock is not None:
            return
        where = f" in namespace {self.netns}" if self.netns else ""
        try:
            sock, nl = run_in_netns(self.netns, self._make_sockets)
        except OSError as exc:
            reason = exc.strerror or str(exc)
            if exc.errno == errno.ENODEV:
                reason = "no such interface"
            raise PortError(f"cannot open port {self.name}{where}: {reason}") from None
        self._sock, self._nl = sock, nl
        try:
            self._hw_addr = self._read_hw_addr()
            self._link_up = self._read_link()
            self._features = self._read_features()
        except OSError as exc:
            self.close()
            raise PortError(f"cannot open port {self.name}{where}: {exc.strerror}") from None

    def _make_sockets(self) -> tuple[socket.socket, socket.socket]:
        # Protocol 0 until bound: an unbound ETH_P_ALL socket would see every interface.
        sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, 0)
        try:
            res = fcntl.ioctl(sock.fileno(), SIOCGIFINDEX, _ifreq(self.name))
            self.ifindex = struct.unpack_from("i", res, IFNAMSIZ)[0]
            sock.bind((self.name, ETH_P_ALL))
            mreq = PACKET_MREQ.pack(self.ifindex, PACKET_MR_PROMISC, 0, b"")
            sock.setsockopt(SOL_PACKET, PACKET_ADD_MEMBERSHIP, mreq)
            sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
            sock.setsockopt(SOL_PACKET, PACKET_VNET_HDR, 1)
            with contextlib.suppress(OSError):  # kernels before 4.20: filtered in recv_batch
                sock.setsockopt(SOL_PACKET, PACKET_IGNORE_OUTGOING, 1)
            sock.setblocking(False)
            nl = socket.socket(socket.AF_NETLINK, socket.SOCK_RAW, socket.NETLINK_ROUTE)
        except BaseException:
            sock.close()
            raise
        try:
            nl.bind((0, RTMGRP_LINK))
            nl.setblocking(False)
        except BaseException:
            nl.close()
            sock.close()
            raise
        return sock, nl

    def close(self) -> None:
        for s in (self._sock, self._nl):
            if s is not None:
                s.close()
        self._sock = self._nl = None

    def fileno(self) -> int:
        if self._sock is None:
            raise PortError(f"port {self.name} is not open")
        return self._sock.fileno()

    def link_fileno(self) -> int | None:
        return None if self._nl is None else self._nl.fileno()

    # --- interface properties -------------------------------------------------------
    def _ioctl(self, req: int, payload: bytes = b"") -> bytes:
        assert self._sock is not None
        return fcntl.ioctl(self._sock.fileno(), req, _ifreq(self.name, payload))

    def _read_hw_addr(self) -> int:
        res = self._ioctl(SIOCGIFHWADDR)
        return int.from_bytes(res[IFNAMSIZ + 2 : IFNAMSIZ + 8], "big")

    def _read_link(self) -> bool:
        try:
            flags = struct.unpack_from("H", self._ioctl(SIOCGIFFLAGS), IFNAMSIZ)[0]
        except OSError:  # interface gone
            return False
        return bool(flags & IFF_UP and flags & IFF_RUNNING)

    def _read_features(self) -> PortFeatures:
        buf = array.array("B", ETHTOOL_CMD.pack(ETHTOOL_GSET, *([0] * 17)))
        addr, _ = buf.buffer_info()
        try:
            fcntl.ioctl(self.fileno(), SIOCETHTOOL, _ifreq(self.name, struct.pack("P", addr)))
        except OSError:  # no ethtool support (e.g. some virtual devices)
            return speed_features(0)
        fields = ETHTOOL_CMD.unpack(buf.tobytes())
        speed = fields[3] | (fields[12] << 16)
        return speed_features(0 if speed in (0xFFFF, 0xFFFFFFFF) else speed)

    @property
    def link_up(self) -> bool:
        return self._link_up

    @property
    def hw_addr(self) -> int:
        return self._hw_addr

    def features(self) -> PortFeatures:
        return self._features

    def poll_link(self) -> bool:
        """Drain rtnetlink notifications; re-read the flags if one concerned this interface."""
        if self._nl is None:
            return False
        relevant = False
        while True:
            try:
                data = self._nl.recv(65536)
            except BlockingIOError:
                break
            except OSError:  # ENOBUFS: notifications lost; re-read to be safe
                relevant = True
                continue
            relevant |= self._mentions_us(data)
        if not relevant:
            return False
        up = self._read_link()
        changed = up != self._link_up
        self._link_up = up
        return changed

    def _mentions_us(self, data: bytes) -> bool:
        off = 0
        while off + NLMSGHDR.size + IFINFOMSG.size <= len(data):
            length, kind, _flags, _seq, _pid = NLMSGHDR.unpack_from(data, off)
            if length < NLMSGHDR.size:
                return True  # malformed: be conservative
            if kind in (RTM_NEWLINK, RTM_DELLINK):
                index = IFINFOMSG.unpack_from(data, off + NLMSGHDR.size)[3]
                if index == self.ifindex:
                    return True
            off += (length + 3) & ~3
        return False

    # --- frames -------------------------------------------------------------------
    def recv_batch(self, max_frames: int) -> list[bytes]:
        sock = self._sock
        if sock is None:
            return []
        out: list[bytes] = []
        cnt = self.counters
        reads = 0
        while reads < max_frames:
            reads += 1
            try:
                data, anc, flags, addr = sock.recvmsg(_RECV_BUF, _AUX_SPACE, socket.MSG_DONTWAIT)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                cnt.rx_errors += 1
                break
            if addr[2] == PACKET_OUTGOING:
                continue
            if flags & socket.MSG_TRUNC:
                cnt.rx_errors += 1
                continue
            try:
                frames = normalize(data)
            except VnetError:
                cnt.rx_errors += 1
                continue
            for f in frames:
                frame = restore_vlan(f, anc)
                cnt.rx_packets += 1
                cnt.rx_bytes += len(frame)
                out.append(frame)
        return out

    def send(self, frame: bytes) -> bool:
        sock = self._sock
        if sock is None:
            self.counters.tx_dropped += 1
            return False
        try:
            sock.sendmsg((TX_HDR, frame), (), socket.MSG_DONTWAIT)
        except (BlockingIOError, InterruptedError):
            self.counters.tx_dropped += 1
            return False
        except OSError as exc:
            if exc.errno in (errno.ENETDOWN, errno.ENXIO, errno.ENOBUFS):
                self.counters.tx_dropped += 1
            else:
                self.counters.tx_errors += 1
            return False
        self.counters.tx_packets += 1
        self.counters.tx_bytes += len(frame)
        return True
