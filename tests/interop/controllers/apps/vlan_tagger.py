"""A user-space 802.1Q tagger: a TAP device's frames leave on a real interface tagged with one VLAN id.

Role: the Faucet test needs a *tagged* host, normally ``ip link add link eth0
name eth0.100 type vlan id 100``. CI's kernels may lack the ``8021q`` module
(and bridge VLAN filtering), so the host runs this instead, in its namespace:
``python vlan_tagger.py --iface eth0 --tap NAME --vid 100``. The TAP device
``NAME`` is the host's VLAN interface (the harness addresses it); frames
written to it leave ``eth0`` with an 802.1Q tag, and tagged frames for that
VLAN arriving on ``eth0`` come out of ``NAME`` untagged.

Design: one ``select`` loop over the TAP fd and an ``AF_PACKET`` socket bound
to ``eth0``. The receive path of Linux moves a VLAN tag out of the frame into
metadata before packet sockets see it, so the tag is read from
``PACKET_AUXDATA`` (``tp_vlan_tci``); a tag still inline in the frame is
accepted too. Frames we sent ourselves (``PACKET_OUTGOING``), untagged frames
and other VLANs are ignored. It prints ``ready`` once the TAP device exists
and runs until SIGTERM.
"""

from __future__ import annotations

import argparse
import fcntl
import os
import select
import socket
import struct
import sys

TUNSETIFF = 0x400454CA
IFF_TAP = 0x0002
IFF_NO_PI = 0x1000
ETH_P_ALL = 0x0003
ETH_P_8021Q = 0x8100
SOL_PACKET = 263
PACKET_AUXDATA = 8
TP_STATUS_VLAN_VALID = 1 << 4
_AUXDATA = struct.Struct("IIIHHHH")  # struct tpacket_auxdata


def vlan_of(frame: bytes, ancillary: list[tuple[int, int, bytes]]) -> tuple[int | None, bytes]:
    """The frame's VLAN id (None: untagged) and the frame without an inline tag."""
    for level, kind, data in ancillary:
        if level == SOL_PACKET and kind == PACKET_AUXDATA and len(data) >= _AUXDATA.size:
            status, _, _, _, _, tci, _ = _AUXDATA.unpack_from(data)
            if status & TP_STATUS_VLAN_VALID:
                return tci & 0x0FFF, frame
    if len(frame) >= 18 and int.from_bytes(frame[12:14], "big") == ETH_P_8021Q:
        return int.from_bytes(frame[14:16], "big") & 0x0FFF, frame[:12] + frame[16:]
    return None, frame


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--iface", required=True, help="the real (trunk) interface")
    parser.add_argument("--tap", required=True, help="name of the TAP device to create")
    parser.add_argument("--vid", type=int, required=True, help="VLAN id, 1..4094")
    args = parser.parse_args(argv)
    if not 1 <= args.vid <= 4094:
        parser.error(f"VLAN id {args.vid} is not in 1..4094")

    tap = os.open("/dev/net/tun", os.O_RDWR)
    fcntl.ioctl(tap, TUNSETIFF, struct.pack("16sH", args.tap.encode(), IFF_TAP | IFF_NO_PI))
    sock = socket.socket(socket.AF_PACKET, socket.SOCK_RAW, socket.htons(ETH_P_ALL))
    sock.bind((args.iface, 0))
    sock.setsockopt(SOL_PACKET, PACKET_AUXDATA, 1)
    tag = struct.pack("!HH", ETH_P_8021Q, args.vid)
    print("ready", flush=True)
    while True:
        readable, _, _ = select.select([tap, sock.fileno()], [], [])
        if tap in readable:
            frame = os.read(tap, 65536)
            if len(frame) >= 14:
                sock.send(frame[:12] + tag + frame[12:])
        if sock.fileno() in readable:
            frame, ancillary, _, address = sock.recvmsg(65536, socket.CMSG_SPACE(_AUXDATA.size))
            if address[2] == socket.PACKET_OUTGOING:
                continue
            vid, inner = vlan_of(frame, ancillary)
            if vid == args.vid:
                os.write(tap, inner)


if __name__ == "__main__":
    sys.exit(main())
