"""Per-frame cost of :class:`MmapPort`'s batch calls on a veth, each beside its baseline.

Role: the figures behind the port notes in docs/benchmarks.md and
``caldera/quake/ports/mmap.py``'s docstring. quake's workers and the bare
forwarder both spend most of their time in ``recv_batch`` and ``send_batch``;
this times them alone, on a veth pair in a namespace made for the run, with
nothing else in the way (no generator, no rules).

* ``send_batch``: the TX ring (one ``send()`` kick per batch, the default)
  against ``tx_mode="send"`` (one ``send()`` per frame). The kernel's
  transmit is included: the peer drops the frames (unknown ethertype).
* ``recv_batch``: a ``vnet`` ring (the workers' rings: offload check read with
  the frame header) against a plain ring, both over frames already queued.

    python -m benchmarks.mmap_port_micro [--rounds 7] [--batches 100]

Root needed (a namespace ``ovpm<pid>``, removed at the end, also on error).
Prints ns per frame, the best of ``--rounds`` (the least disturbed by the
machine's other tenants); variants alternate within each round.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import time

from openvolcano.caldera.quake.ports.mmap import MmapPort, RingGeometry

BATCH = 256


def _frames() -> list[bytes]:
    head = bytes.fromhex("02aabbccdd0102aabbccdd02") + b"\x88\xb5"  # local experimental type
    return [(head + i.to_bytes(4, "big")).ljust(60, b"\x00") for i in range(BATCH)]


def _ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


def measure(ns: str, a: argparse.Namespace) -> dict[str, float]:
    frames = _frames()
    tx = {"ring": MmapPort("ovpma", netns=ns), "send": MmapPort("ovpma", netns=ns,
                                                                 tx_mode="send")}  # fmt: skip
    big = RingGeometry(block_size=1 << 17, block_nr=64)  # 8 MiB: room for the queued frames
    rx = {"vnet": MmapPort("ovpmb", netns=ns, vnet=True, geometry=big),
          "plain": MmapPort("ovpmb", netns=ns, geometry=big)}  # fmt: skip
    best: dict[str, float] = {}

    def keep(name: str, seconds: float, n: int) -> None:
        if n:
            best[name] = min(best.get(name, float("inf")), seconds / n * 1e9)

    def send(port: MmapPort) -> float:
        t0 = time.perf_counter()
        for _ in range(a.batches):
            port.send_batch(list(frames))
        return time.perf_counter() - t0

    for port in (*tx.values(), *rx.values()):
        port.open()
    try:
        sender = tx["ring"]
        for _ in range(a.rounds):
            for name, port in (
                ("send_batch, TX ring", tx["ring"]),
                ("send_batch, tx_mode=send (baseline)", tx["send"]),
            ):
                keep(name, send(port), a.batches * BATCH)
            for name in ("vnet", "plain"):
                port = rx[name]
                other = rx["plain" if name == "vnet" else "vnet"]
                while other.recv_batch(BATCH) or port.recv_batch(BATCH):
                    pass  # both rings empty
                queued = 20 * BATCH
                for _ in range(20):
                    sender.send_batch(list(frames))
                time.sleep(0.05)  # delivered; the V3 block is retired after 1 ms
                other.recv_batch(queued)  # the other socket's copy: not timed
                t0, n = time.perf_counter(), 0
                while True:
                    got = port.recv_batch(BATCH)
                    n += len(got)
                    if len(got) < BATCH:
                        break
                label = (
                    "recv_batch, vnet ring" if name == "vnet" else "recv_batch, plain (baseline)"
                )
                keep(label, time.perf_counter() - t0, n if n >= queued // 2 else 0)
    finally:
        for port in (*tx.values(), *rx.values()):
            port.close()
    return best


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--rounds", type=int, default=7)
    ap.add_argument("--batches", type=int, default=100, help="send batches per variant/round")
    a = ap.parse_args(argv)
    if a.rounds < 1 or a.batches < 1:
        ap.error("--rounds and --batches must be >= 1")
    if os.geteuid() != 0:
        print("mmap_port_micro: needs root (a network namespace and a veth)", file=sys.stderr)
        return 2
    ns = f"ovpm{os.getpid()}"
    _ip("netns", "add", ns)
    try:
        _ip("-n", ns, "link", "add", "ovpma", "type", "veth", "peer", "name", "ovpmb")
        for dev in ("ovpma", "ovpmb"):
            _ip("-n", ns, "link", "set", dev, "up")
        best = measure(ns, a)
    finally:
        _ip("netns", "del", ns)
    print(f"{'MmapPort, 60-byte frames, batches of 256':44s} ns/frame (best of {a.rounds})")
    for name, v in best.items():
        print(f"{name:44s} {v:8.0f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
