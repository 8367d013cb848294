"""Helpers for the live quake tests: start quake in a netlab switch, talk OpenFlow to it.

:class:`SyncController` is a minimal blocking OpenFlow controller over
:class:`openvolcano.ofp.connection.Connection` and a loopback TCP socket
(run from the switch namespace, where quake listens on 127.0.0.1).
Every wait is bounded by a deadline; nothing sleeps to let time pass.
"""

from __future__ import annotations

import os
import selectors
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

from openvolcano.caldera.quake.ports.afpacket import run_in_netns
from openvolcano.netlab.build import Lab
from openvolcano.ofp import consts as c
from openvolcano.ofp.base import Message
from openvolcano.ofp.connection import (
    Connection,
    ConnectionClosed,
    MessageReceived,
    Negotiated,
    Role,
)
from openvolcano.ofp.messages import BarrierReply, BarrierRequest, Error, PacketIn

OPENVOLCANO = str(Path(sys.executable).with_name("openvolcano"))
WAIT = 10.0
M = TypeVar("M", bound=Message)


def free_port() -> int:
    """A loopback TCP port that is free in a fresh namespace (random: parallel runs differ)."""
    return 20000 + int.from_bytes(os.urandom(2), "big") % 20000


def start_quake(
    lab: Lab, switch: str, ports: list[str], of_port: int, *extra: str
) -> subprocess.Popen[str]:
    """quake in ``switch``'s namespace, listening on 127.0.0.1:``of_port``; returns once it answers."""
    argv = [OPENVOLCANO, "quake", "--dpid", "0x2a", "--tables", "8",
            *[a for p in ports for a in ("--port", p)],
            "--listen", f"ptcp:{of_port}:127.0.0.1", *extra]  # fmt: skip
    proc = lab.popen(switch, argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 20
    netns = lab.netns(switch)
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            _, err = proc.communicate()
            raise AssertionError(f"quake exited with {proc.returncode}: {err}")
        try:
            sock = run_in_netns(netns, lambda: socket.create_connection(("127.0.0.1", of_port), 1))
        except OSError:
            time.sleep(0.1)  # bounded by the deadline: the daemon is starting
            continue
        sock.close()
        return proc
    raise AssertionError("quake did not listen within 20 s")


class SyncController:
    """A blocking OpenFlow 1.3 controller for tests. Packet-ins collect in ``packet_ins``."""

    def __init__(self, lab: Lab, switch: str, of_port: int) -> None:
        self.sock = run_in_netns(
            lab.netns(switch), lambda: socket.create_connection(("127.0.0.1", of_port), WAIT)
        )
        self.conn = Connection(Role.CONTROLLER)
        self.inbox: list[Message] = []
        self.packet_ins: list[PacketIn] = []
        self.errors: list[Error] = []
        self.sock.sendall(self.conn.data_to_send())
        negotiated = False

        def hello(ev: object) -> bool:
            nonlocal negotiated
            negotiated |= isinstance(ev, Negotiated)
            return negotiated

        self._pump_until(lambda: negotiated, hello)

    def close(self) -> None:
        self.sock.close()

    def _pump_until(self, done: Callable[[], bool], on_event: Callable[[object], object]) -> None:
        deadline = time.monotonic() + WAIT
        sel = selectors.DefaultSelector()
        sel.register(self.sock, selectors.EVENT_READ)
        try:
            while not done():
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("no answer from quake within the deadline")
                if not sel.select(left):
                    continue
                data = self.sock.recv(65536)
                self.conn.receive_data(data)
                for ev in self.conn:
                    on_event(ev)
                    if isinstance(ev, MessageReceived):
                        if isinstance(ev.msg, PacketIn):
                            self.packet_ins.append(ev.msg)
                        elif isinstance(ev.msg, Error):
                            self.errors.append(ev.msg)
                        self.inbox.append(ev.msg)
                    elif isinstance(ev, ConnectionClosed):
                        raise ConnectionError(f"quake closed the connection: {ev.reason}")
                self.sock.sendall(self.conn.data_to_send())  # echo replies
        finally:
            sel.close()

    def send(self, msg: Message) -> int:
        msg = self.conn.assign_xid(msg)
        self.sock.sendall(self.conn.send(msg))
        return msg.xid

    def request(self, msg: Message, kind: type[M]) -> list[M]:
        """Send ``msg``; every reply of type ``kind`` with its xid (multipart: all parts)."""
        xid = self.send(msg)
        got: list[M] = []

        def done() -> bool:
            for m in list(self.inbox):
                if m.xid == xid and isinstance(m, Error):
                    raise AssertionError(f"quake refused {msg.name()}: {m}")
                if m.xid == xid and isinstance(m, kind):
                    self.inbox.remove(m)
                    got.append(m)
                    if not getattr(m, "flags", 0) & c.OFPMPF_REPLY_MORE:
                        return True
            return False

        self._pump_until(done, lambda ev: None)
        return got

    def barrier(self) -> None:
        self.request(BarrierRequest(), BarrierReply)

    def install(self, msgs: tuple[Message, ...] | list[Message]) -> None:
        """Send messages then a barrier; any OFPT_ERROR for them fails."""
        xids = [self.send(m) for m in msgs]
        self.barrier()
        bad = [e for e in self.errors if e.xid in xids]
        assert not bad, f"quake refused setup messages: {bad}"
