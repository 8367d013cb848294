"""Back-end fixtures for the lava contract test: one factory per VirtDriver implementation.

Each factory yields a driver with three servers: ``a`` and ``b`` (room for
four images) and ``full`` (room for none), plus the spec of a small image the
back-end can really run. Everything a factory creates (namespaces, state
directories, libvirt domains) is removed when it exits, also on failure.
"""

# Test set-up runs short blocking commands (ip, a client in a namespace) on purpose.
# ruff: noqa: ASYNC221

from __future__ import annotations

import os
import secrets
import subprocess
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest

from openvolcano.api.lava import ImageKind, ImageSpec
from openvolcano.stratov.lava.driver import VirtDriver
from openvolcano.stratov.lava.fake import FakeDriver


@dataclass
class Backend:
    driver: VirtDriver
    make_spec: Callable[[str], ImageSpec]
    real_processes: bool


def suffix() -> str:
    return secrets.token_hex(3)


@asynccontextmanager
async def fake_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    driver = FakeDriver({"a": 4, "b": 4, "full": 0})
    yield Backend(driver, lambda name: ImageSpec(name=name, kind=ImageKind.NAS), False)


@asynccontextmanager
async def netns_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    if os.geteuid() != 0:
        pytest.skip("the netns back-end needs root")
    from openvolcano.stratov.lava.netns import NetnsDriver, NetnsServer

    tag = suffix()
    server_ns = {s: f"lvt{tag}{s[0]}" for s in ("a", "b", "full")}
    made: list[str] = []
    try:
        for ns in server_ns.values():
            subprocess.run(["ip", "netns", "add", ns], check=True)
            made.append(ns)
        servers = [
            NetnsServer(
                name=s,
                state_root=tmp_path / s,
                netns=ns,
                capacity=0 if s == "full" else 4,
            )
            for s, ns in server_ns.items()
        ]
        driver = NetnsDriver(servers, prefix=f"lvt{tag}")
        try:
            yield Backend(
                driver,
                lambda name: ImageSpec(name=name, kind=ImageKind.NAS, memory_mb=64),
                True,
            )
        finally:
            for img in await driver.list_images():
                await driver.destroy(img.name)
    finally:
        for ns in made:
            subprocess.run(["ip", "netns", "delete", ns], check=False)


@asynccontextmanager
async def libvirt_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    pytest.importorskip("libvirt")
    from openvolcano.stratov.lava.libvirt_driver import LibvirtDriver, LibvirtServer

    driver = LibvirtDriver(
        [
            LibvirtServer(name="a", uri="test:///default", capacity=4),
            LibvirtServer(name="b", uri="test:///default", capacity=4),
            LibvirtServer(name="full", uri="test:///default", capacity=0),
        ],
        domain_prefix=f"lvt{suffix()}",
    )
    try:
        yield Backend(driver, lambda name: ImageSpec(name=name, kind=ImageKind.NAS), False)
    finally:
        for img in await driver.list_images():
            await driver.destroy(img.name)
        await driver.close()


@asynccontextmanager
async def agent_backend(tmp_path: Path) -> AsyncIterator[Backend]:
    """StratoV's AgentDriver -> the node agent's ASGI app (in-process) -> a FakeDriver."""
    import httpx

    from openvolcano.caldera.lavanode.agent import create_app
    from openvolcano.stratov.lava.agent_client import AgentDriver

    inner = FakeDriver({"a": 4, "b": 4, "full": 0})
    transport = httpx.ASGITransport(app=create_app(inner))
    driver = AgentDriver("http://agent", transport=transport)
    try:
        yield Backend(driver, lambda name: ImageSpec(name=name, kind=ImageKind.NAS), False)
    finally:
        await driver.close()


FACTORIES = {
    "fake": fake_backend,
    "netns": netns_backend,
    "libvirt": libvirt_backend,
    "agent": agent_backend,
}


@pytest.fixture(
    params=[
        "fake",
        pytest.param("netns", marks=pytest.mark.root),
        "libvirt",
        "agent",
    ]
)
async def backend(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[Backend]:
    async with FACTORIES[request.param](tmp_path) as b:
        yield b
