"""Linux AF_PACKET / PACKET_MMAP / TUN wire constants and small ioctl helpers.

Role: the kernel ABI that :mod:`.mmap` (TPACKET_V3 RX ring, TPACKET_V2 TX
ring, fanout) and :mod:`.tap` (``/dev/net/tun``) are written against, kept in
one place so the backends read as logic. Names follow ``<linux/if_packet.h>``
and ``<linux/if_tun.h>`` exactly; each C struct is written out in a comment
next to its :class:`struct.Struct` with a size assert.

Design: pure data plus three ioctl wrappers (interface flags, MAC, set-up).
The wrappers work on any socket or fd of the *calling thread's* network
namespace, which is what a port must see (``/sys/class/net`` may belong to
another namespace when a process entered its namespace with ``setns``).
"""

from __future__ import annotations

import ctypes
import fcntl
import socket
import struct
from typing import Final

__all__ = [
    "BLOCK_DESC",
    "BLOCK_STATUS",
    "ETH_P_8021Q",
    "ETH_P_ALL",
    "IFF_NO_PI",
    "IFF_RUNNING",
    "IFF_TAP",
    "IFF_UP",
    "IFREQ_FLAGS",
    "PACKET_ADD_MEMBERSHIP",
    "PACKET_FANOUT",
    "PACKET_FANOUT_FLAG_DEFRAG",
    "PACKET_FANOUT_HASH",
    "PACKET_FANOUT_LB",
    "PACKET_IGNORE_OUTGOING",
    "PACKET_LOSS",
    "PACKET_MREQ",
    "PACKET_MR_PROMISC",
    "PACKET_QDISC_BYPASS",
    "PACKET_RX_RING",
    "PACKET_STATISTICS",
    "PACKET_TX_RING",
    "PACKET_VERSION",
    "SOL_PACKET",
    "STATS_V3",
    "TP2_TX_DATA_OFFSET",
    "TP2_TX_HDR",
    "TP3_HDR",
    "TP3_VLAN",
    "TP3_VLAN_OFFSET",
    "TPACKET_REQ",
    "TPACKET_REQ3",
    "TPACKET_V2",
    "TPACKET_V3",
    "TP_STATUS_AVAILABLE",
    "TP_STATUS_KERNEL",
    "TP_STATUS_SENDING",
    "TP_STATUS_SEND_REQUEST",
    "TP_STATUS_USER",
    "TP_STATUS_VLAN_TPID_VALID",
    "TP_STATUS_VLAN_VALID",
    "TP_STATUS_WRONG_FORMAT",
    "TUNSETIFF",
    "TX_STATUS",
    "VLAN_TAG",
    "drain_link_events",
    "if_flags",
    "if_hwaddr",
    "if_index",
    "if_speed_mbps",
    "link_watch_socket",
    "set_if_up",
]

ETH_P_ALL: Final = 0x0003
ETH_P_8021Q: Final = 0x8100
SOL_PACKET: Final = 263

# setsockopt(SOL_PACKET, ...) option names (<linux/if_packet.h>)
PACKET_ADD_MEMBERSHIP: Final = 1
PACKET_MR_PROMISC: Final = 1
PACKET_RX_RING: Final = 5
PACKET_STATISTICS: Final = 6
PACKET_VERSION: Final = 10
PACKET_TX_RING: Final = 13
PACKET_LOSS: Final = 14
PACKET_FANOUT: Final = 18
PACKET_QDISC_BYPASS: Final = 20
PACKET_IGNORE_OUTGOING: Final = 23

# struct packet_mreq { int mr_ifindex; u16 mr_type, mr_alen; u8 mr_address[8]; }
PACKET_MREQ: Final = struct.Struct("=iHH8s")
assert PACKET_MREQ.size == 16

TPACKET_V2: Final = 1
TPACKET_V3: Final = 2

PACKET_FANOUT_HASH: Final = 0
PACKET_FANOUT_LB: Final = 1
PACKET_FANOUT_FLAG_DEFRAG: Final = 0x8000

# RX status bits (block_status and tp_status)
TP_STATUS_KERNEL: Final = 0
TP_STATUS_USER: Final = 1
TP_STATUS_VLAN_VALID: Final = 0x10
TP_STATUS_VLAN_TPID_VALID: Final = 0x40
# TX frame status values
TP_STATUS_AVAILABLE: Final = 0
TP_STATUS_SEND_REQUEST: Final = 1
TP_STATUS_SENDING: Final = 2
TP_STATUS_WRONG_FORMAT: Final = 4

# struct tpacket_req3 { u32 tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr,
#                       tp_retire_blk_tov, tp_sizeof_priv, tp_feature_req_word; }
TPACKET_REQ3: Final = struct.Struct("=7I")
assert TPACKET_REQ3.size == 28
# struct tpacket_req { u32 tp_block_size, tp_block_nr, tp_frame_size, tp_frame_nr; }
TPACKET_REQ: Final = struct.Struct("=4I")
assert TPACKET_REQ.size == 16

# struct tpacket_block_desc { u32 version; u32 offset_to_priv;
#   struct tpacket_hdr_v1 { u32 block_status; u32 num_pkts; u32 offset_to_first_pkt;
#                           u32 blk_len; ... } }
# read from offset 8: block_status, num_pkts, offset_to_first_pkt
BLOCK_DESC: Final = struct.Struct("=8xIII")
assert BLOCK_DESC.size == 20

# tpacket_hdr_v1.block_status, written back at offset 8 to return a block to the kernel
BLOCK_STATUS: Final = struct.Struct("=I")

# struct tpacket3_hdr { u32 tp_next_offset; u32 tp_sec; u32 tp_nsec; u32 tp_snaplen;
#   u32 tp_len; u32 tp_status; u16 tp_mac; u16 tp_net;
#   struct tpacket_hdr_variant1 { u32 tp_rxhash; u32 tp_vlan_tci; u16 tp_vlan_tpid;
#                                 u16 tp_padding; } hv1; u8 tp_padding[8]; }
# read: next_offset, snaplen, len, status, mac
TP3_HDR: Final = struct.Struct("=I8xIIIH")
assert TP3_HDR.size == 26
# read from offset 32: tp_vlan_tci, tp_vlan_tpid
TP3_VLAN: Final = struct.Struct("=IH")
TP3_VLAN_OFFSET: Final = 32
# the 802.1Q tag put back into a frame: TPID, TCI (network order)
VLAN_TAG: Final = struct.Struct("!HH")

# struct tpacket2_hdr { u32 tp_status; u32 tp_len; u32 tp_snaplen; u16 tp_mac; u16 tp_net;
#   u32 tp_sec; u32 tp_nsec; u16 tp_vlan_tci; u16 tp_vlan_tpid; u8 tp_padding[4]; }  (32 bytes)
# written on TX: tp_status, tp_len
TP2_TX_HDR: Final = struct.Struct("=II")
TX_STATUS: Final = struct.Struct("=I")
# TX data starts at TPACKET2_HDRLEN - sizeof(struct sockaddr_ll) = (32 + 20) - 20
TP2_TX_DATA_OFFSET: Final = 32

# struct tpacket_stats_v3 { u32 tp_packets; u32 tp_drops; u32 tp_freeze_q_cnt; }
STATS_V3: Final = struct.Struct("=III")

# <linux/if_tun.h>
TUNSETIFF: Final = 0x400454CA
IFF_TAP: Final = 0x0002
IFF_NO_PI: Final = 0x1000

# <linux/if.h> interface flags, <linux/sockios.h> requests
IFF_UP: Final = 0x1
IFF_RUNNING: Final = 0x40
_SIOCGIFFLAGS: Final = 0x8913
_SIOCSIFFLAGS: Final = 0x8914
_SIOCGIFHWADDR: Final = 0x8927
_SIOCGIFINDEX: Final = 0x8933
# struct ifreq { char ifr_name[16]; union { short flags; struct sockaddr hwaddr; ... } }
IFREQ_FLAGS: Final = struct.Struct("=16sH22x")
_IFREQ_HWADDR: Final = struct.Struct("=16sH6s16x")
assert IFREQ_FLAGS.size == _IFREQ_HWADDR.size == 40


def if_flags(fd: int, name: str) -> int:
    """IFF_* flags of ``name``, asked through socket ``fd`` (its namespace); OSError if absent."""
    out = fcntl.ioctl(fd, _SIOCGIFFLAGS, IFREQ_FLAGS.pack(name.encode(), 0))
    return int(IFREQ_FLAGS.unpack(out)[1])


def set_if_up(fd: int, name: str) -> None:
    """Set IFF_UP on ``name`` (like ``ip link set NAME up``) through socket ``fd``."""
    flags = if_flags(fd, name)
    if not flags & IFF_UP:
        fcntl.ioctl(fd, _SIOCSIFFLAGS, IFREQ_FLAGS.pack(name.encode(), flags | IFF_UP))


def if_hwaddr(fd: int, name: str) -> int:
    """The MAC address of ``name`` as a 48-bit integer, through socket ``fd``."""
    out = fcntl.ioctl(fd, _SIOCGIFHWADDR, _IFREQ_HWADDR.pack(name.encode(), 0, b""))
    return int.from_bytes(_IFREQ_HWADDR.unpack(out)[2], "big")


def if_index(fd: int, name: str) -> int:
    """The ifindex of ``name``, through socket ``fd``."""
    out = fcntl.ioctl(fd, _SIOCGIFINDEX, IFREQ_FLAGS.pack(name.encode(), 0))
    return int(struct.unpack_from("=i", out, 16)[0])


_SIOCETHTOOL: Final = 0x8946
_ETHTOOL_GSET: Final = 0x00000001
# struct ethtool_cmd { u32 cmd; u32 supported; u32 advertising; u16 speed; u8 duplex, port,
#   phy_address, transceiver, autoneg, mdio_support; u32 maxtxpkt, maxrxpkt; u16 speed_hi;
#   u8 eth_tp_mdix, eth_tp_mdix_ctrl; u32 lp_advertising; u32 reserved[2]; }  (44 bytes)
_ETHTOOL_CMD: Final = struct.Struct("=IIIH6xIIH2xI8x")
assert _ETHTOOL_CMD.size == 44
_SPEED_UNKNOWN: Final = 0xFFFFFFFF


def if_speed_mbps(fd: int, name: str) -> int:
    """Link speed in Mbit/s from the driver (ETHTOOL_GSET); 0 when unknown or unsupported."""
    buf = bytearray(_ETHTOOL_CMD.pack(_ETHTOOL_GSET, 0, 0, 0, 0, 0, 0, 0))
    data = (ctypes.c_char * len(buf)).from_buffer(buf)
    ifreq = struct.pack("=16sQ16x", name.encode(), ctypes.addressof(data))
    try:
        fcntl.ioctl(fd, _SIOCETHTOOL, ifreq)
    except OSError:
        return 0
    del data  # release the export of buf
    fields = _ETHTOOL_CMD.unpack(buf)
    speed = fields[3] | (fields[6] << 16)
    return 0 if speed in (0, _SPEED_UNKNOWN, 0xFFFF) else speed


# rtnetlink link notifications (<linux/rtnetlink.h>)
_RTMGRP_LINK: Final = 0x1
_RTM_NEWLINK: Final = 16
_RTM_DELLINK: Final = 17
# struct nlmsghdr { u32 nlmsg_len; u16 nlmsg_type, nlmsg_flags; u32 nlmsg_seq, nlmsg_pid; }
_NLMSGHDR: Final = struct.Struct("=IHHII")
# struct ifinfomsg { u8 ifi_family, pad; u16 ifi_type; i32 ifi_index; u32 ifi_flags, ifi_change; }
_IFINFOMSG: Final = struct.Struct("=BBHiII")
assert _NLMSGHDR.size == _IFINFOMSG.size == 16


def link_watch_socket() -> socket.socket:
    """A non-blocking rtnetlink socket that becomes readable on every link change."""
    nl = socket.socket(
        socket.AF_NETLINK, socket.SOCK_RAW | socket.SOCK_CLOEXEC, socket.NETLINK_ROUTE
    )
    try:
        nl.bind((0, _RTMGRP_LINK))
        nl.setblocking(False)
    except OSError:
        nl.close()
        raise
    return nl


def drain_link_events(nl: socket.socket, ifindex: int) -> bool:
    """Read every pending notification; True if one concerned ``ifindex`` (or some were lost)."""
    relevant = False
    while True:
        try:
            data = nl.recv(65536)
        except BlockingIOError:
            return relevant
        except OSError:  # ENOBUFS: notifications were lost, assume ours was among them
            relevant = True
            continue
        off = 0
        while off + _NLMSGHDR.size + _IFINFOMSG.size <= len(data):
            length, kind = _NLMSGHDR.unpack_from(data, off)[:2]
            if length < _NLMSGHDR.size:
                relevant = True
                break
            if kind in (_RTM_NEWLINK, _RTM_DELLINK):
                relevant |= _IFINFOMSG.unpack_from(data, off + _NLMSGHDR.size)[3] == ifindex
            off += (length + 3) & ~3
