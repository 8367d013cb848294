"""Network plumbing of netns virtual images: their namespace and their veth NICs.

Role: in the netns back-end a virtual image lives in its own network
namespace; its NIC is a veth pair whose server-side end sits in the server's
network namespace, enslaved to the server's switch (today a Linux bridge
stand-in, later a logical port of quake, paper section III). This module
creates and removes exactly those objects with iproute2's ``ip``.

Design: every call is one ``ip`` command run as an asyncio subprocess; a
failure raises :class:`~openvolcano.common.errors.Unavailable` carrying the
command's stderr. Before a NIC comes up inside the image namespace,
``arp_notify``/``ndisc_notify`` are enabled there, so the kernel announces
the image's address with a gratuitous ARP / unsolicited neighbour
advertisement as soon as the link is up - after a migration that is what
tells the switches where the image went.

Invariants: a NIC is plumbed completely or not at all (a failed step removes
the pair, which deletes both ends); only names handed in are touched.
"""

from __future__ import annotations

import asyncio
import secrets
from pathlib import Path

from openvolcano.api.lava import PortAttachment, PortSpec
from openvolcano.common.errors import Conflict, Unavailable

__all__ = ["add_port", "create_netns", "delete_netns", "link_exists", "remove_port", "run_ip"]

_NETNS_DIR = Path("/run/netns")
_NOTIFY = (
    "echo 1 > /proc/sys/net/ipv4/conf/all/arp_notify; "
    "echo 1 > /proc/sys/net/ipv4/conf/default/arp_notify; "
    "echo 1 > /proc/sys/net/ipv6/conf/default/ndisc_notify 2>/dev/null; true"
)


async def run_ip(*args: str, netns: str | None = None) -> str:
    """Run ``ip [-n netns] args...``; return stdout or raise Unavailable with stderr."""
    argv = ["ip", *(["-n", netns] if netns else []), *args]
    proc = await asyncio.create_subprocess_exec(
        *argv, stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE
    )
    out, err = await proc.communicate()
    if proc.returncode != 0:
        raise Unavailable(f"'{' '.join(argv)}' failed: {err.decode(errors='replace').strip()}")
    return out.decode()


async def create_netns(name: str) -> None:
    """Create network namespace ``name`` with lo up and address announcements enabled."""
    if (_NETNS_DIR / name).exists():
        raise Conflict(f"network namespace {name!r} already exists")
    await run_ip("netns", "add", name)
    try:
        await run_ip("link", "set", "lo", "up", netns=name)
        await run_ip("netns", "exec", name, "sh", "-c", _NOTIFY)
    except Unavailable:
        await delete_netns(name)
        raise


async def delete_netns(name: str) -> None:
    """Delete network namespace ``name`` (and the veth ends inside it); absent is fine."""
    if (_NETNS_DIR / name).exists():
        await run_ip("netns", "delete", name)


async def link_exists(ifname: str, netns: str | None) -> bool:
    """Whether interface ``ifname`` exists in ``netns`` (None: lava's own namespace)."""
    try:
        await run_ip("link", "show", "dev", ifname, netns=netns)
    except Unavailable:
        return False
    return True


def random_mac() -> str:
    """A random locally administered unicast MAC address."""
    raw = bytearray(secrets.token_bytes(6))
    raw[0] = (raw[0] & 0xFC) | 0x02
    return ":".join(f"{b:02x}" for b in raw)


async def add_port(
    *,
    image: str,
    server: str,
    image_netns: str,
    server_netns: str | None,
    bridge: str | None,
    port: PortSpec,
) -> PortAttachment:
    """Create the veth pair of ``port``: host end in the server ns (on ``bridge``), NIC in the image."""
    if await link_exists(port.host_ifname, server_netns):
        raise Conflict(
            f"port {port.host_ifname!r} already exists on server {server!r}",
            port=port.host_ifname,
        )
    if await link_exists(port.image_ifname, image_netns):
        raise Conflict(f"image {image!r} already has a NIC {port.image_ifname!r}")
    mac = port.mac or random_mac()
    await run_ip(
        "link", "add", port.host_ifname, "type", "veth",
        "peer", "name", port.image_ifname, "netns", image_netns,
        netns=server_netns,
    )  # fmt: skip
    try:
        if bridge:
            await run_ip("link", "set", port.host_ifname, "master", bridge, netns=server_netns)
        await run_ip("link", "set", port.host_ifname, "up", netns=server_netns)
        await run_ip("link", "set", port.image_ifname, "address", mac, netns=image_netns)
        if port.address:
            await run_ip("addr", "add", port.address, "dev", port.image_ifname, netns=image_netns)
        await run_ip("link", "set", port.image_ifname, "up", netns=image_netns)
    except Unavailable:
        await remove_port(port.host_ifname, server_netns)
        raise
    return PortAttachment(
        image=image,
        server=server,
        host_ifname=port.host_ifname,
        image_ifname=port.image_ifname,
        mac=mac,
        address=port.address,
    )


async def remove_port(host_ifname: str, server_netns: str | None) -> None:
    """Delete a veth pair by its server-side end; absent is fine."""
    if await link_exists(host_ifname, server_netns):
        await run_ip("link", "delete", "dev", host_ifname, netns=server_netns)
