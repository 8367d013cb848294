"""The VirtDriver contract: every lava back-end (fake, netns, libvirt test driver) passes it.

One module, parametrised over the back-ends by the ``backend`` fixture in
``conftest.py``; a back-end is skipped only where it cannot run (no root for
netns, no libvirt-python for libvirt). Capability-dependent behaviour (live
migration) is checked against what the back-end *says* it can do.
"""

from __future__ import annotations

import pytest

from conftest import Backend, suffix
from openvolcano.api.lava import ImageState, MigrationMode, PortSpec, Unsupported
from openvolcano.common.errors import Conflict, NotFound, OpenVolcanoError

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


async def test_capabilities_and_servers(backend: Backend) -> None:
    caps = await backend.driver.capabilities()
    # A proxy (the node agent's client) reports the back-end behind it.
    assert caps.backend in (backend.driver.backend, "fake")
    assert caps.cold_migration
    assert await backend.driver.servers() == ["a", "b", "full"]


async def test_life_cycle(backend: Backend) -> None:
    d = backend.driver
    name = f"img-{suffix()}"
    status = await d.create("a", backend.make_spec(name))
    assert (status.name, status.server, status.state) == (name, "a", ImageState.DEFINED)
    assert status.backend == (await d.capabilities()).backend
    assert [s.name for s in await d.list_images()] == [name]

    status = await d.start(name)
    assert status.state is ImageState.RUNNING
    if backend.real_processes:
        assert status.pid is not None
    assert (await d.status(name)).state is ImageState.RUNNING
    stats = await d.stats(name)
    assert stats.name == name
    assert stats.memory_bytes >= 0

    status = await d.stop(name)
    assert status.state is ImageState.STOPPED
    assert status.pid is None
    assert (await d.start(name)).state is ImageState.RUNNING

    if (await d.capabilities()).console:
        assert (await d.console(name)).name == name
    else:
        with pytest.raises(Unsupported):
            await d.console(name)
    await d.destroy(name)
    assert await d.list_images() == []
    with pytest.raises(NotFound):
        await d.status(name)


async def test_bad_requests_fail_cleanly(backend: Backend) -> None:
    d = backend.driver
    name = f"img-{suffix()}"
    with pytest.raises(NotFound, match="server 'nowhere'"):
        await d.create("nowhere", backend.make_spec(name))
    with pytest.raises(Conflict, match="full"):
        await d.create("full", backend.make_spec(name))
    assert await d.list_images() == []

    await d.create("a", backend.make_spec(name))
    with pytest.raises(Conflict, match="already exists"):
        await d.create("b", backend.make_spec(name))
    with pytest.raises(Conflict, match="not running"):
        await d.stop(name)
    await d.start(name)
    with pytest.raises(Conflict, match="already running"):
        await d.start(name)
    for call in (d.status, d.start, d.stop, d.destroy, d.stats):
        with pytest.raises(NotFound, match="'ghost'"):
            await call("ghost")
    with pytest.raises(NotFound):
        await d.migrate("ghost", "b", MigrationMode.COLD)
    # Nothing was lost: the image still runs where it was.
    status = await d.status(name)
    assert (status.server, status.state) == ("a", ImageState.RUNNING)


async def test_migration_rejections_leave_image_running(backend: Backend) -> None:
    d = backend.driver
    name = f"img-{suffix()}"
    await d.create("a", backend.make_spec(name))
    await d.start(name)
    with pytest.raises(NotFound, match="server 'nowhere'"):
        await d.migrate(name, "nowhere", MigrationMode.COLD)
    with pytest.raises(Conflict, match="full"):
        await d.migrate(name, "full", MigrationMode.COLD)
    with pytest.raises(Conflict, match="already on server"):
        await d.migrate(name, "a", MigrationMode.COLD)
    status = await d.status(name)
    assert (status.server, status.state) == ("a", ImageState.RUNNING)


@pytest.mark.parametrize("mode", [MigrationMode.COLD, MigrationMode.LIVE])
async def test_migration_report(backend: Backend, mode: MigrationMode) -> None:
    d = backend.driver
    caps = await d.capabilities()
    name = f"img-{suffix()}"
    await d.create("a", backend.make_spec(name))
    await d.start(name)
    try:
        report = await d.migrate(name, "b", mode)
    except OpenVolcanoError as exc:
        pytest.fail(f"{d.backend}: {mode.value} migration failed: {exc}")
    assert (report.image, report.source, report.target) == (name, "a", "b")
    assert report.mode_requested is mode
    if mode is MigrationMode.LIVE and not caps.live_migration:
        assert report.mode_used is MigrationMode.COLD
        assert not report.memory_preserved
    assert report.downtime_s <= report.total_s
    assert report.disk_preserved
    status = await d.status(name)
    assert (status.server, status.state) == ("b", ImageState.RUNNING)
    # The source server has room again, the target one image more.
    other = f"img-{suffix()}"
    await d.create("a", backend.make_spec(other))
    await d.destroy(other)


async def test_attach_port(backend: Backend) -> None:
    d = backend.driver
    caps = await d.capabilities()
    if not caps.network_ports:
        pytest.skip(f"{d.backend} has no network ports")
    name = f"img-{suffix()}"
    host = f"lvp{suffix()}"
    await d.create("a", backend.make_spec(name))
    att = await d.attach_port(name, PortSpec(host_ifname=host, mac="02:00:00:aa:bb:01"))
    assert (att.image, att.server, att.host_ifname, att.mac) == (
        name,
        "a",
        host,
        "02:00:00:aa:bb:01",
    )
    other = f"img-{suffix()}"
    await d.create("a", backend.make_spec(other))
    with pytest.raises(Conflict, match="already exists"):
        await d.attach_port(other, PortSpec(host_ifname=host))
    await d.start(name)
    report = await d.migrate(name, "b", MigrationMode.COLD)
    assert report.target == "b"
