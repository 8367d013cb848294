"""Unique, kernel-valid names for everything a lab creates.

Role: :mod:`openvolcano.netlab.build` creates namespaces and interfaces that
live in the machine-wide namespace-name and root interface-name spaces, where
other labs (parallel tests, other engineers, CI jobs) create theirs too. Names
are planned here, purely, before anything is created, so they can be unit
tested and so that teardown knows exactly what to remove.

Scheme, for a lab with prefix ``ovl`` and random suffix ``3fa9``:

* namespace of node ``s1``: ``ovl-s1-3fa9`` (namespace names may be long);
* veth end of switch port ``s1:p1``: ``s1-p1-3fa9``; of host ``h1``: ``h1-3fa9``
  (hosts' ends are renamed to their ``iface``, e.g. ``eth0``, once inside the
  host's namespace; switch ports keep their unique name, which is what
  ``lab.iface(switch, port)`` returns for ``--port IFNAME``);
* when ``node-port-suffix`` would exceed the kernel's 15-character limit or
  collide with another name, the end is called ``v<N>-<suffix>`` instead
  (``N`` counts endpoints in link order, bumped until the name is free).

Invariants: every interface name is <= 15 characters, made of
``[a-z0-9_-]``, unique within the lab, and contains the lab suffix.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass

from openvolcano.netlab.topo import Host, Topology, TopologyError

__all__ = ["IFNAMSIZ_MAX", "LabNames", "plan_names"]

IFNAMSIZ_MAX = 15  # IFNAMSIZ (16) minus the terminating NUL
_SUFFIX = re.compile(r"[a-z0-9]{2,6}")
_PREFIX = re.compile(r"[a-z0-9][a-z0-9_-]{0,15}")


@dataclass(frozen=True)
class LabNames:
    """The names one lab will use: a namespace per node, an interface per link endpoint."""

    suffix: str
    netns: dict[str, str]
    """Node name -> namespace name."""
    ifaces: dict[tuple[str, str | None], str]
    """``(node, port)`` -> name of the veth end created for it (``port`` is None for hosts)."""


def plan_names(topo: Topology, prefix: str = "ovl", suffix: str | None = None) -> LabNames:
    """Name every namespace and veth end of ``topo``; ``suffix`` defaults to 4 random hex digits."""
    if not _PREFIX.fullmatch(prefix):
        raise TopologyError(
            f"invalid lab prefix {prefix!r}: use 1-16 lower-case letters, digits, '-' or '_'"
        )
    if suffix is None:
        suffix = secrets.token_hex(2)
    elif not _SUFFIX.fullmatch(suffix):
        raise TopologyError(f"invalid lab suffix {suffix!r}: use 2-6 lower-case letters or digits")
    netns = {node.name: f"{prefix}-{node.name}-{suffix}" for node in topo.nodes()}
    ifaces: dict[tuple[str, str | None], str] = {}
    taken: set[str] = set()
    counter = 0
    for link in topo.links:
        for end in (link.a, link.b):
            counter += 1
            node = topo.node(end.node)
            port = None if isinstance(node, Host) else end.port
            base = end.node if port is None else f"{end.node}-{port}"
            name = f"{base}-{suffix}"
            fallback = counter
            while len(name) > IFNAMSIZ_MAX or name in taken:
                name = f"v{fallback}-{suffix}"
                fallback += 1
            taken.add(name)
            ifaces[(end.node, port)] = name
    return LabNames(suffix=suffix, netns=netns, ifaces=ifaces)
