"""Bare PACKET_MMAP forwarder: port A -> port B with quake's MmapPort, no OpenFlow.

Role: the "bare PACKET_MMAP forwarder" baseline of the quake fast-path
targets (quake must reach >= 0.9x of it): the same port backend quake uses
(:class:`openvolcano.caldera.quake.ports.mmap.MmapPort`), the same batching
and idle policy, but no parsing, lookup or actions - so the gap between the
two is the cost of the switch itself.

    python benchmarks/bare_mmap_fwd.py IN_IF OUT_IF [--batch 256] [--tx-mode ring|send]

Loop: take up to ``--batch`` frames from the RX ring; if there were any, send
them as one batch; if there were none, sleep in ``poll()`` on the RX socket
(an idle forwarder burns no CPU). Prints ``READY`` once both ports are open
and the port counters as one JSON line on SIGTERM/SIGINT.
"""

from __future__ import annotations

import argparse
import json
import select
import signal
import sys
from types import FrameType

from openvolcano.caldera.quake.ports.base import PortError
from openvolcano.caldera.quake.ports.mmap import MmapPort

_IDLE_POLL_MS = 1000


class _Stop(Exception):
    pass


def _on_signal(_signum: int, _frame: FrameType | None) -> None:
    raise _Stop


def forward(inp: MmapPort, out: MmapPort, batch: int) -> None:
    """Forward until a signal raises :class:`_Stop`."""
    poller = select.poll()
    poller.register(inp.fileno(), select.POLLIN)
    recv, send = inp.recv_batch, out.send_batch
    while True:
        frames = recv(batch)
        if frames:
            send(frames)
        else:
            poller.poll(_IDLE_POLL_MS)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("inp", help="interface to read from")
    ap.add_argument("out", help="interface to write to")
    ap.add_argument("--batch", type=int, default=256, help="frames per batch (default 256)")
    ap.add_argument("--tx-mode", choices=["ring", "send"], default="ring")
    a = ap.parse_args(argv)
    if a.batch < 1:
        ap.error("--batch must be at least 1")
    inp, out = MmapPort(a.inp, tx_mode=a.tx_mode), MmapPort(a.out, tx_mode=a.tx_mode)
    try:
        inp.open()
        out.open()
    except PortError as exc:
        print(f"bare_mmap_fwd: {exc}", file=sys.stderr)
        return 1
    signal.signal(signal.SIGTERM, _on_signal)
    signal.signal(signal.SIGINT, _on_signal)
    print("READY", flush=True)
    try:
        forward(inp, out, a.batch)
    except _Stop:
        pass
    finally:
        stats = {"in": inp.counters.as_dict(), "out": out.counters.as_dict()}
        inp.close()
        out.close()
    print(json.dumps(stats), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
