"""magma's event fan-out: typed events to subscribers through bounded queues.

Role: magma reports what happens in the network (paper section IV) - switch
and link up/down, hosts seen and moved, packet-ins, flow-removed, errors - to
whoever subscribed (conduit, apps, tests), as :mod:`openvolcano.api.magma`
event models.

Design and queue policy: every subscriber has its own bounded queue
(``maxsize`` events). :meth:`EventBus.publish` never blocks the controller:
when a subscriber's queue is full, its *oldest* event is dropped (the newest
state matters most) and the subscriber's ``dropped`` counter grows, so a
slow subscriber loses old news but never stalls switch handling.
Writer: the controller task (publish); readers: each subscriber its own queue.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

from openvolcano.api.magma import (
    FlowRemovedEvent,
    HostMoved,
    HostSeen,
    LinkDown,
    LinkUp,
    PacketInReceived,
    PortStatusChanged,
    SwitchDown,
    SwitchError,
    SwitchUp,
)

__all__ = ["Event", "EventBus", "Subscription"]

Event = (
    SwitchUp
    | SwitchDown
    | PortStatusChanged
    | PacketInReceived
    | FlowRemovedEvent
    | SwitchError
    | LinkUp
    | LinkDown
    | HostSeen
    | HostMoved
)


class Subscription:
    """One subscriber's bounded queue; iterate it, or ``await get()``."""

    def __init__(self, bus: EventBus, maxsize: int) -> None:
        self._bus = bus
        self.queue: asyncio.Queue[Event] = asyncio.Queue(maxsize=maxsize)
        self.dropped = 0

    def offer(self, event: Event) -> None:
        if self.queue.full():
            self.queue.get_nowait()
            self.dropped += 1
        self.queue.put_nowait(event)

    async def get(self) -> Event:
        return await self.queue.get()

    async def __aiter__(self) -> AsyncIterator[Event]:
        while True:
            yield await self.queue.get()

    def close(self) -> None:
        self._bus.unsubscribe(self)


class EventBus:
    def __init__(self) -> None:
        self._subs: list[Subscription] = []
        self.published = 0

    def subscribe(self, maxsize: int = 1024) -> Subscription:
        sub = Subscription(self, maxsize)
        self._subs.append(sub)
        return sub

    def unsubscribe(self, sub: Subscription) -> None:
        if sub in self._subs:
            self._subs.remove(sub)

    @property
    def has_subscribers(self) -> bool:
        return bool(self._subs)

    def publish(self, event: Event) -> None:
        self.published += 1
        for sub in self._subs:
            sub.offer(event)
