"""AF_PACKET port with PACKET_MMAP rings: quake's fast physical/veth port backend.

Role (paper §VI, Caldera data plane): the paper's quake reads Linux
interfaces with PACKET_MMAP; this is that port behind the
:class:`~.base.PortBackend` interface. It serves physical interfaces and the
host end of veth pairs facing virtual images alike.

Design:

* **RX**: one AF_PACKET socket with a TPACKET_V3 ring (``block_nr`` blocks of
  ``block_size`` bytes, shared with the kernel by ``mmap``). The kernel fills
  a block with many frames and hands the whole block over (when full, or
  after ``retire_ms`` of idleness), so one :meth:`recv_batch` walks every frame
  of the ready blocks with no system call at all, and gives each block back
  (``block_status = TP_STATUS_KERNEL``) as soon as its last frame was copied
  out. A batch may stop inside a block; the cursor stays there.
* **VLAN**: the kernel strips the outer 802.1Q/802.1ad tag before packet
  sockets see a frame and reports it in ``tp_vlan_tci``/``tp_vlan_tpid``
  (``TP_STATUS_VLAN_VALID``); :meth:`recv_batch` puts it back so frames are
  exactly as on the wire.
* **Interface**: bound to one interface, promiscuous through a
  ``PACKET_MR_PROMISC`` membership (ends with the socket); ``netns=NAME``
  creates the sockets in that namespace (a short-lived thread enters it;
  sockets stay bound to their namespace). MAC, flags and speed are asked
  through the socket, so they are the namespace's. Link changes wake
  :meth:`link_fileno` (an rtnetlink ``RTMGRP_LINK`` socket); :meth:`poll_link`
  re-reads IFF_UP/IFF_RUNNING.
* **Own traffic**: ``PACKET_IGNORE_OUTGOING``: frames this host transmits on
  the interface (our own sends included) are not received back.
* **Fanout**: with ``fanout_group`` set, the socket joins that PACKET_FANOUT
  group (flow hash by default), so several worker processes, each with its
  own :class:`MmapPort` on the same interface, share its traffic with every
  flow pinned to one worker.
* **TX**: ``tx_mode="ring"`` (default): a TPACKET_V2 TX ring on a second,
  never-receiving socket; :meth:`send_batch` copies the frames into free slots
  and kicks the kernel with one ``send()`` per batch. ``tx_mode="send"``: one
  ``send()`` per frame. Frames larger than a ring slot always take ``send()``.
  Sending never blocks: a full ring or a full device queue counts
  ``tx_dropped``.
* **Idle**: the sockets are non-blocking; the caller polls :meth:`fileno`
  (readable when a block is ready), so an idle port burns no CPU. With
  TPACKET_V3 a partly filled block is handed over after ``retire_ms``, which
  bounds the added latency at low load.
* **Offloads** (``vnet=True``): the RX socket has ``PACKET_VNET_HDR``, so
  the kernel writes a virtio-net header right in front of each frame in the
  ring. A frame with nothing pending (flags and gso_type zero: the common
  case) is taken as is - the two bytes come with the frame header in one
  ``struct`` unpack, laid out for the ``tp_mac`` of the first frame
  (every Ethernet frame of the socket has it; another one reads its own
  bytes): ``python -m benchmarks.mmap_port_micro`` gives 374-391 ns per
  frame for ``recv_batch`` on a vnet ring against 343-367 on a plain one;
  a partial checksum or a TSO/USO
  super-frame goes through :func:`.vnet.normalize` (checksum finished,
  super-frame cut into MTU segments) before the VLAN tag is put back - so
  TCP from local senders with their offloads on crosses the switch. A ring
  block must then hold a 64 KiB super-frame: ``block_size`` >= 128 KiB.
* **Drops in the kernel** (ring full) are read with PACKET_STATISTICS when a
  batch drains the ring (every 16th such batch: one syscall each), and
  added to ``rx_dropped``.

Invariants: single owner (one thread of one process); only :meth:`open`
raises (:class:`~.base.PortError`); ``recv_batch``/``send``/``send_batch``
count and return on every error; a block is never read while the kernel owns
it and is always returned once all its frames were consumed.
"""

from __future__ import annotations

import errno
import mmap
import socket
import struct
from collections.abc import Iterable

from . import _tpacket as tp
from .afpacket import run_in_netns
from .base import PortBackend, PortCounters, PortError, PortFeatures, speed_features
from .vnet import PACKET_VNET_HDR, VNET_HDR, VnetError, normalize

__all__ = ["MmapPort", "RingGeometry"]


def _vlan_tag(ring: mmap.mmap, pos: int, fstatus: int) -> bytes:
    """The 802.1Q/802.1ad tag the kernel stripped into a V3 frame header, as wire bytes."""
    tci, tpid = tp.TP3_VLAN.unpack_from(ring, pos + tp.TP3_VLAN_OFFSET)
    if not fstatus & tp.TP_STATUS_VLAN_TPID_VALID or not tpid:
        tpid = tp.ETH_P_8021Q
    return tp.VLAN_TAG.pack(tpid, tci & 0xFFFF)


def _offloaded(
    ring: mmap.mmap, pos: int, start: int, snap: int, fstatus: int
) -> tuple[list[bytes], int]:
    """A frame with a pending checksum or GSO: finished frames (tag restored), error count."""
    try:
        frames = normalize(ring[start - VNET_HDR.size : start + snap])
    except VnetError:
        return [], 1
    if fstatus & tp.TP_STATUS_VLAN_VALID:
        tag = _vlan_tag(ring, pos, fstatus)
        frames = [f[:12] + tag + f[12:] for f in frames]
    return frames, 0


_RX_FRAME_HINT = 2048  # tp_frame_size of a V3 ring: only used by the kernel for sanity checks
_TX_BLOCK_FRAMES = 64  # TX ring frames per block (the kernel wants page-multiple blocks)
_DROPS_EVERY = 16  # drained batches between two PACKET_STATISTICS reads
_VNET_MIN_BLOCK = 1 << 17  # a 64 KiB GSO super-frame plus headers fits in one block


class RingGeometry:
    """Sizes of the RX and TX rings (validated: powers of two, page multiples)."""

    __slots__ = ("block_nr", "block_size", "retire_ms", "tx_frame_nr", "tx_frame_size")

    def __init__(
        self,
        *,
        block_size: int = 1 << 18,
        block_nr: int = 32,
        retire_ms: int = 1,
        tx_frame_size: int = 2048,
        tx_frame_nr: int = 1024,
    ) -> None:
        for label, v in (
            ("block_size", block_size),
            ("tx_frame_size", tx_frame_size),
            ("tx_frame_nr", tx_frame_nr),
        ):
            if v <= 0 or v & (v - 1):
                raise ValueError(f"{label} must be a power of two, got {v}")
        if block_size % mmap.PAGESIZE or block_nr < 2 or retire_ms < 1:
            raise ValueError("block_size must be a page multiple, block_nr >= 2, retire_ms >= 1")
        if tx_frame_size < 128 or tx_frame_nr % _TX_BLOCK_FRAMES:
            raise ValueError(
                f"tx_frame_size >= 128 and tx_frame_nr a multiple of {_TX_BLOCK_FRAMES}"
            )
        self.block_size = block_size
        self.block_nr = block_nr
        self.retire_ms = retire_ms
        self.tx_frame_size = tx_frame_size
        self.tx_frame_nr = tx_frame_nr


class MmapPort(PortBackend):
    """A Linux interface read through a TPACKET_V3 ring, written through a TX ring."""

    def __init__(
        self,
        name: str,
        *,
        geometry: RingGeometry | None = None,
        tx_mode: str = "ring",
        fanout_group: int | None = None,
        fanout_mode: int = tp.PACKET_FANOUT_HASH,
        qdisc_bypass: bool = True,
        netns: str | None = None,
        vnet: bool = False,
        receive: bool = True,
    ) -> None:
        if tx_mode not in ("ring", "send"):
            raise ValueError(f"tx_mode must be 'ring' or 'send', got {tx_mode!r}")
        if fanout_group is not None and not 0 <= fanout_group <= 0xFFFF:
            raise ValueError(f"fanout_group must be 0..65535, got {fanout_group}")
        if not 0 < len(name.encode()) < 16 or "/" in name:
            raise PortError(f"invalid interface name {name!r}")
        self.name = name
        self.counters = PortCounters()
        self.geometry = geometry or RingGeometry()
        if vnet and self.geometry.block_size < _VNET_MIN_BLOCK:
            raise ValueError(f"vnet needs block_size >= {_VNET_MIN_BLOCK} (64 KiB super-frames)")
        self.vnet = vnet
        # The frame header plus the vnet header's flags and gso_type in one unpack, for frames
        # whose tp_mac is _rx_mac (learnt from the first frame: the same for every Ethernet
        # frame of a socket); see _rx_layout
        self._rx_hdr: struct.Struct | None = None
        self._rx_mac = -1
        self.receive = receive  # False: a send-only port (its RX socket is bound to no protocol)
        self.tx_mode = tx_mode
        self.fanout_group = fanout_group
        self.fanout_mode = fanout_mode
        self.qdisc_bypass = qdisc_bypass
        self.netns = netns
        self.ifindex = 0
        self._rx: socket.socket | None = None
        self._tx: socket.socket | None = None
        self._nl: socket.socket | None = None
        self._link_up = False
        self._hw_addr = 0
        self._features = PortFeatures()
        self._rx_ring: mmap.mmap | None = None
        self._tx_ring: mmap.mmap | None = None
        # RX cursor (owner: recv_batch): current block, frames left in it, next frame offset
        self._blk = 0
        self._left = 0
        self._pos = 0
        self._tx_slot = 0
        self._drained = _DROPS_EVERY - 1  # the first drained batch collects drops

    # --- lifecycle ------------------------------------------------------------
    def open(self) -> None:
        if self._rx is not None:
            return
        where = f" in namespace {self.netns}" if self.netns else ""
        try:
            self._rx, self._tx, self._nl = run_in_netns(self.netns, self._make_sockets)
            g = self.geometry
            self._rx_ring = mmap.mmap(self._rx.fileno(), g.block_size * g.block_nr, mmap.MAP_SHARED)
            if self.tx_mode == "ring":
                size = g.tx_frame_size * g.tx_frame_nr
                self._tx_ring = mmap.mmap(self._tx.fileno(), size, mmap.MAP_SHARED)
            fd = self._rx.fileno()
            self._hw_addr = tp.if_hwaddr(fd, self.name)
            self._link_up = self._read_link()
            self._features = speed_features(tp.if_speed_mbps(fd, self.name))
        except OSError as exc:
            self.close()
            reason = "no such interface" if exc.errno == errno.ENODEV else exc.strerror or str(exc)
            raise PortError(f"cannot open port {self.name}{where}: {reason}") from None
        self._blk = self._left = self._pos = self._tx_slot = 0

    def _make_sockets(self) -> tuple[socket.socket, socket.socket, socket.socket]:
        """The RX, TX and link-watch sockets, created in the port's namespace (thread-local)."""
        g = self.geometry
        made: list[socket.socket] = []
        try:
            # protocol 0 until bound: an unbound ETH_P_ALL socket would see every interface
            rx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
            made.append(rx)
            self.ifindex = tp.if_index(rx.fileno(), self.name)
            rx.setsockopt(tp.SOL_PACKET, tp.PACKET_VERSION, tp.TPACKET_V3)
            rx.setsockopt(tp.SOL_PACKET, tp.PACKET_IGNORE_OUTGOING, 1)
            if self.vnet:  # before the ring: the kernel refuses it afterwards
                rx.setsockopt(tp.SOL_PACKET, PACKET_VNET_HDR, 1)
            frames = g.block_size * g.block_nr // _RX_FRAME_HINT
            req = tp.TPACKET_REQ3.pack(
                g.block_size, g.block_nr, _RX_FRAME_HINT, frames, g.retire_ms, 0, 0
            )
            rx.setsockopt(tp.SOL_PACKET, tp.PACKET_RX_RING, req)
            rx.bind((self.name, tp.ETH_P_ALL if self.receive else 0))
            mreq = tp.PACKET_MREQ.pack(self.ifindex, tp.PACKET_MR_PROMISC, 0, b"")
            rx.setsockopt(tp.SOL_PACKET, tp.PACKET_ADD_MEMBERSHIP, mreq)
            if self.fanout_group is not None:
                flags = self.fanout_mode | tp.PACKET_FANOUT_FLAG_DEFRAG
                arg = struct.pack("=I", self.fanout_group | flags << 16)  # > INT_MAX: as bytes
                rx.setsockopt(tp.SOL_PACKET, tp.PACKET_FANOUT, arg)
            rx.setblocking(False)
            tx = socket.socket(socket.AF_PACKET, socket.SOCK_RAW | socket.SOCK_CLOEXEC, 0)
            made.append(tx)
            if self.qdisc_bypass:
                tx.setsockopt(tp.SOL_PACKET, tp.PACKET_QDISC_BYPASS, 1)
            if self.tx_mode == "ring":
                tx.setsockopt(tp.SOL_PACKET, tp.PACKET_VERSION, tp.TPACKET_V2)
                tx.setsockopt(tp.SOL_PACKET, tp.PACKET_LOSS, 1)  # bad frame: skipped, not stuck
                fs, fn = g.tx_frame_size, g.tx_frame_nr
                req = tp.TPACKET_REQ.pack(fs * _TX_BLOCK_FRAMES, fn // _TX_BLOCK_FRAMES, fs, fn)
                tx.setsockopt(tp.SOL_PACKET, tp.PACKET_TX_RING, req)
            tx.bind((self.name, 0))  # protocol 0: this socket never receives
            tx.setblocking(False)
            nl = tp.link_watch_socket()
        except BaseException:
            for sock in made:
                sock.close()
            raise
        return rx, tx, nl

    def close(self) -> None:
        for ring in (self._rx_ring, self._tx_ring):
            if ring is not None:
                ring.close()
        for sock in (self._rx, self._tx, self._nl):
            if sock is not None:
                sock.close()
        self._rx_ring = self._tx_ring = None
        self._rx = self._tx = self._nl = None

    def fileno(self) -> int:
        if self._rx is None:
            raise PortError(f"port {self.name} is not open")
        return self._rx.fileno()

    def link_fileno(self) -> int | None:
        return None if self._nl is None else self._nl.fileno()

    # --- link -----------------------------------------------------------------
    def _read_link(self) -> bool:
        if self._rx is None:
            return False
        try:
            flags = tp.if_flags(self._rx.fileno(), self.name)
        except OSError:  # interface gone
            return False
        return bool(flags & tp.IFF_UP and flags & tp.IFF_RUNNING)

    def poll_link(self) -> bool:
        if self._nl is None or not tp.drain_link_events(self._nl, self.ifindex):
            return False
        up = self._read_link()
        changed = up != self._link_up
        self._link_up = up
        return changed

    @property
    def link_up(self) -> bool:
        return self._link_up

    @property
    def hw_addr(self) -> int:
        return self._hw_addr

    def features(self) -> PortFeatures:
        return self._features

    # --- RX -------------------------------------------------------------------
    def recv_batch(self, max_frames: int) -> list[bytes]:
        ring = self._rx_ring
        out: list[bytes] = []
        if ring is None or max_frames <= 0:
            return out
        bsz, bnr = self.geometry.block_size, self.geometry.block_nr
        unpack_hdr, unpack_blk = tp.TP3_HDR.unpack_from, tp.BLOCK_DESC.unpack_from
        append = out.append
        # vnet header byte 0 = flags (bit 0 NEEDS_CSUM: work; DATA_VALID: none), 1 = gso_type
        vnet, vh = self.vnet, VNET_HDR.size
        blk, left, pos = self._blk, self._left, self._pos
        nbytes = errors = 0
        while len(out) < max_frames:
            if left == 0:
                base = blk * bsz
                status, num, first = unpack_blk(ring, base)
                if not status & tp.TP_STATUS_USER:
                    break
                if num == 0:  # an empty retired block: give it back at once
                    tp.BLOCK_STATUS.pack_into(ring, base + 8, tp.TP_STATUS_KERNEL)
                    blk = (blk + 1) % bnr
                    continue
                left, pos = num, base + first
            # frames of the current block
            take = min(left, max_frames - len(out))
            if self._rx_hdr is None:
                self._rx_layout(unpack_hdr(ring, pos)[4])
            unpack, mac0 = self._rx_hdr.unpack_from, self._rx_mac  # type: ignore[union-attr]
            for _ in range(take):
                nxt, snap, length, fstatus, mac, vflags, vgso = unpack(ring, pos)
                if mac != mac0:  # another layout: the vnet bytes (if any) precede its tp_mac
                    vflags, vgso = (
                        (ring[pos + mac - vh], ring[pos + mac - vh + 1]) if vnet else (0, 0)
                    )
                start = pos + mac
                if snap != length:  # truncated by the ring: never forward a partial frame
                    errors += 1
                elif vnet and (vflags & 1 or vgso):  # NEEDS_CSUM, or a GSO super-frame
                    got, bad = _offloaded(ring, pos, start, snap, fstatus)
                    out += got
                    nbytes += sum(map(len, got))
                    errors += bad
                elif fstatus & tp.TP_STATUS_VLAN_VALID:
                    tag = _vlan_tag(ring, pos, fstatus)
                    append(ring[start : start + 12] + tag + ring[start + 12 : start + snap])
                    nbytes += snap + 4
                else:
                    append(ring[start : start + snap])
                    nbytes += snap
                pos += nxt
            left -= take
            if left == 0:
                tp.BLOCK_STATUS.pack_into(ring, blk * bsz + 8, tp.TP_STATUS_KERNEL)
                blk = (blk + 1) % bnr
        self._blk, self._left, self._pos = blk, left, pos
        c = self.counters
        c.rx_packets += len(out)
        c.rx_bytes += nbytes
        if errors:
            c.rx_errors += errors
        if len(out) < max_frames:  # drained: a cheap moment to collect kernel drops...
            self._drained += 1
            if self._drained >= _DROPS_EVERY:  # ...every few times (one syscall each)
                self._drained = 0
                self._collect_kernel_drops()
        return out

    def _rx_layout(self, mac: int) -> None:
        """The per-frame struct for frames at ``tp_mac == mac``: tpacket3_hdr's fields, then
        two more bytes - with vnet, the vnet header's flags and gso_type just before the
        frame; without, whatever follows the fields (never looked at)."""
        gap = mac - VNET_HDR.size - tp.TP3_HDR.size
        self._rx_mac = mac
        if self.vnet and gap < 0:  # the vnet header would overlap the fields (never seen)
            gap, self._rx_mac = 0, -1  # so every frame reads its vnet bytes itself
        self._rx_hdr = struct.Struct(f"{tp.TP3_HDR.format}{gap if self.vnet else 0}xBB")

    def _collect_kernel_drops(self) -> None:
        if self._rx is None:
            return
        try:
            raw = self._rx.getsockopt(tp.SOL_PACKET, tp.PACKET_STATISTICS, tp.STATS_V3.size)
        except OSError:
            return
        _packets, drops, _freeze = tp.STATS_V3.unpack(raw)  # the kernel resets them on read
        self.counters.rx_dropped += drops

    # --- TX -------------------------------------------------------------------
    def send(self, frame: bytes) -> bool:
        return self.send_batch((frame,)) == 1

    def send_batch(self, frames: Iterable[bytes]) -> int:
        tx = self._tx
        c = self.counters
        if tx is None:
            n = sum(1 for _ in frames)
            c.tx_dropped += n
            return 0
        if self._tx_ring is None:
            return self._send_each(tx, frames)
        return self._send_ring(tx, self._tx_ring, frames)

    def _send_each(self, tx: socket.socket, frames: Iterable[bytes]) -> int:
        c = self.counters
        sent = nbytes = dropped = 0
        send = tx.send
        for frame in frames:
            try:
                send(frame)
            except OSError:  # ENOBUFS/EAGAIN (queue full), ENETDOWN, EMSGSIZE...
                dropped += 1
                continue
            sent += 1
            nbytes += len(frame)
        c.tx_packets += sent
        c.tx_bytes += nbytes
        c.tx_dropped += dropped
        return sent

    def _send_ring(self, tx: socket.socket, ring: mmap.mmap, frames: Iterable[bytes]) -> int:
        c = self.counters
        fs, fn = self.geometry.tx_frame_size, self.geometry.tx_frame_nr
        room = fs - tp.TP2_TX_DATA_OFFSET
        slot = self._tx_slot
        unpack_status, pack_hdr = tp.TX_STATUS.unpack_from, tp.TP2_TX_HDR.pack_into
        queued = nbytes = dropped = kicked = unkicked = 0
        sent_direct = 0
        for frame in frames:
            n = len(frame)
            if n > room:  # larger than a slot: flush the ring first to keep the order
                if unkicked:
                    self._kick(tx)
                    unkicked = 0
                sent_direct += self._send_each(tx, (frame,))
                continue
            off = slot * fs
            status = unpack_status(ring, off)[0]
            if status != tp.TP_STATUS_AVAILABLE:
                if status == tp.TP_STATUS_WRONG_FORMAT:
                    c.tx_errors += 1  # the kernel refused that earlier frame; reuse the slot
                else:
                    if not kicked:
                        kicked = 1  # ring full: let the kernel drain it once, then drop
                        self._kick(tx)
                        status = unpack_status(ring, off)[0]
                    if status not in (tp.TP_STATUS_AVAILABLE, tp.TP_STATUS_WRONG_FORMAT):
                        dropped += 1
                        continue
            data = off + tp.TP2_TX_DATA_OFFSET
            ring[data : data + n] = frame
            pack_hdr(ring, off, tp.TP_STATUS_SEND_REQUEST, n)
            slot = slot + 1 if slot + 1 < fn else 0
            queued += 1
            unkicked += 1
            nbytes += n
        self._tx_slot = slot
        if unkicked:
            self._kick(tx)
        c.tx_packets += queued
        c.tx_bytes += nbytes
        c.tx_dropped += dropped
        return queued + sent_direct

    def _kick(self, tx: socket.socket) -> None:
        """Ask the kernel to transmit every SEND_REQUEST slot (never waits)."""
        try:
            tx.send(b"")
        except OSError as exc:
            if exc.errno not in (errno.EAGAIN, errno.ENOBUFS, errno.ENETDOWN, errno.ENXIO):
                self.counters.tx_errors += 1

    # --- introspection ----------------------------------------------------------
    def tx_pending(self) -> int:
        """TX ring slots not yet released by the kernel (tests, status); 0 without a ring."""
        ring = self._tx_ring
        if ring is None:
            return 0
        fs = self.geometry.tx_frame_size
        return sum(
            1
            for i in range(self.geometry.tx_frame_nr)
            if tp.TX_STATUS.unpack_from(ring, i * fs)[0]
            in (tp.TP_STATUS_SEND_REQUEST, tp.TP_STATUS_SENDING)
        )
