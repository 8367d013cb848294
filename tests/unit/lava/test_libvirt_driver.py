"""LibvirtDriver details the contract test does not reach: XML, retargeting, migration choices.

Runs on libvirt's built-in ``test:///default`` driver (no daemon). The test
driver cannot migrate live, so live requests must say they ran cold; an
unreachable target must fail before the image is touched.
"""

from __future__ import annotations

import secrets
import xml.etree.ElementTree as ET
from collections.abc import AsyncIterator

import pytest

from openvolcano.api.lava import ImageSpec, ImageState, MigrationMode
from openvolcano.common.errors import Unavailable

libvirt = pytest.importorskip("libvirt")

from openvolcano.stratov.lava.libvirt_driver import (  # noqa: E402
    LibvirtDriver,
    LibvirtServer,
    _retarget,
    domain_xml,
)

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def driver() -> AsyncIterator[LibvirtDriver]:
    d = LibvirtDriver(
        [
            LibvirtServer(name="a", uri="test:///default"),
            LibvirtServer(name="b", uri="test:///default"),
            # A test-driver URI naming a file that does not exist: the open fails.
            LibvirtServer(name="gone", uri="test:///nonexistent/ovl-missing.xml"),
        ],
        domain_prefix=f"lvu{secrets.token_hex(3)}",
    )
    try:
        yield d
    finally:
        for img in await d.list_images():
            await d.destroy(img.name)
        await d.close()


def test_cpu_quota_only_for_fractional_cores() -> None:
    srv = LibvirtServer(name="a", uri="test:///default", domain_type="qemu")
    whole = ET.fromstring(domain_xml("d", ImageSpec(name="x", cpu_cores=2), srv, []))
    assert whole.get("type") == "qemu"
    assert whole.findtext("vcpu") == "2"
    assert whole.find("cputune") is None
    half = ET.fromstring(domain_xml("d", ImageSpec(name="x", cpu_cores=1.5), srv, []))
    assert half.findtext("cputune/quota") == "75000"


def test_retarget_moves_console_log_and_boot_files() -> None:
    src = LibvirtServer(name="a", uri="u", log_dir="/la", kernel="/ka", initrd="/ia")
    dst = LibvirtServer(name="b", uri="v", log_dir="/lb", kernel="/kb", initrd="/ib")
    xml = (
        "<domain type='qemu'><name>d</name><os><type>hvm</type><kernel>/ka</kernel>"
        "<initrd>/ia</initrd></os><devices>"
        "<serial type='file'><source path='/la/d.log'/></serial>"
        "<console type='file'><source path='/la/d.log'/></console>"
        "<serial type='file'><source path='/elsewhere.log'/></serial></devices></domain>"
    )
    out = ET.fromstring(_retarget(xml, "d", src, dst))
    assert [s.get("path") for s in out.iterfind("devices/*/source")] == [
        "/lb/d.log",
        "/lb/d.log",
        "/elsewhere.log",
    ]
    assert (out.findtext("os/kernel"), out.findtext("os/initrd")) == ("/kb", "/ib")


async def test_live_request_on_test_driver_runs_cold_and_says_why(driver: LibvirtDriver) -> None:
    caps = await driver.capabilities()
    assert not caps.live_migration  # the test driver is not QEMU
    await driver.create("a", ImageSpec(name="img"))
    await driver.start("img")
    report = await driver.migrate("img", "b", MigrationMode.LIVE)
    assert (report.mode_used, report.memory_preserved) == (MigrationMode.COLD, False)
    assert "not a QEMU daemon" in report.note
    await driver.stop("img")
    report = await driver.migrate("img", "a", MigrationMode.LIVE)
    assert "the image was not running" in report.note
    assert report.downtime_s == 0.0


async def test_unreachable_target_fails_before_touching_the_image(
    driver: LibvirtDriver,
) -> None:
    await driver.create("a", ImageSpec(name="img"))
    await driver.start("img")
    with pytest.raises(Unavailable, match="libvirt on server 'gone'"):
        await driver.migrate("img", "gone", MigrationMode.LIVE)
    status = await driver.status("img")
    assert (status.server, status.state) == ("a", ImageState.RUNNING)
