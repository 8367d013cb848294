"""Probe parsers and readers against fixture files (captured from a real host, and synthetic)."""

from __future__ import annotations

from pathlib import Path

import pytest

from openvolcano.caldera.geyser.probes import parsers as P
from openvolcano.caldera.geyser.probes.sources import HostReader

FIX = Path(__file__).parents[2] / "fixtures" / "geyser"
HOST = FIX / "host"
SYN = FIX / "synthetic"


def test_proc_stat_total_and_per_core() -> None:
    cpus = P.parse_proc_stat((HOST / "proc/stat").read_text())
    assert set(cpus) == {"cpu", "cpu0", "cpu1"}
    assert cpus["cpu"].user == 8918
    assert cpus["cpu"].idle == 58591
    assert (cpus["cpu0"].user, cpus["cpu0"].system, cpus["cpu1"].steal) == (4624, 883, 792)
    assert cpus["cpu"].total_ticks == 8918 + 1878 + 58591 + 382 + 90 + 1569


def test_cpu_busy_fraction() -> None:
    a = P.CpuTimes(100, 0, 0, 100, 0, 0, 0, 0)
    b = P.CpuTimes(175, 0, 0, 125, 0, 0, 0, 0)
    assert P.cpu_busy_fraction(a, b) == pytest.approx(0.75)
    assert P.cpu_busy_fraction(a, a) == 0.0


def test_loadavg_meminfo_pressure() -> None:
    load = P.parse_loadavg((HOST / "proc/loadavg").read_text())
    assert load.tasks > 0
    assert load.load1 >= 0
    mem = P.parse_meminfo((HOST / "proc/meminfo").read_text())
    assert mem["MemTotal"] > mem["MemAvailable"] > 0
    assert mem["MemTotal"] % 1024 == 0  # kB converted to bytes
    psi = P.parse_pressure((HOST / "proc/pressure/cpu").read_text())
    assert set(psi) == {"some", "full"}
    assert psi["full"].avg10 == 0.0
    assert psi["some"].total_us > 0


def test_pid_stat_io_and_odd_comm() -> None:
    st = P.parse_pid_stat((HOST / "proc/4242/stat").read_text())
    assert st.comm == "cat"
    assert st.rss_pages == 359
    assert st.starttime == 35526
    odd = P.parse_pid_stat((SYN / "proc/77/stat").read_text())
    assert odd.comm == "quake worker (2)"
    assert (odd.utime, odd.stime, odd.num_threads, odd.rss_pages) == (1500, 300, 1, 2560)
    io = P.parse_pid_io((HOST / "proc/4242/io").read_text())
    assert io["rchar"] == 6976
    assert io["read_bytes"] == 0
    rss = P.parse_pid_status_kb((HOST / "proc/4242/status").read_text(), "VmRSS")
    assert rss is not None
    assert rss % 1024 == 0


def test_net_dev() -> None:
    net = P.parse_net_dev((HOST / "proc/net/dev").read_text())
    assert net["eth0"].rx_bytes == 157469615
    assert net["eth0"].tx_packets == 3768
    assert net["lo"].rx_bytes == net["lo"].tx_bytes == 3193


def test_cgroup_limits() -> None:
    v2 = P.parse_cgroup_cpu_max((SYN / "cgroup2/vi-alice/cpu.max").read_text())
    assert v2.cpus == pytest.approx(0.2)
    assert P.parse_cgroup_cpu_max("max 100000\n").cpus is None
    v1 = P.parse_cgroup_v1_quota("-1\n", "100000\n")
    assert v1.quota_us is None
    stat = P.parse_flat_keyed((SYN / "cgroup2/vi-alice/cpu.stat").read_text(), "cpu.stat")
    assert stat["usage_usec"] == 5_000_000
    assert stat["nr_throttled"] == 7


@pytest.mark.parametrize(
    ("parser", "text"),
    [
        (P.parse_proc_stat, "intr 1 2 3\n"),
        (P.parse_proc_stat, "cpu 1 x 3 4\n"),
        (P.parse_loadavg, "0.1 0.2\n"),
        (P.parse_meminfo, "MemFree: 12 kB\n"),
        (P.parse_pressure, "some avg10=1.0 avg60=2.0\n"),
        (P.parse_pid_stat, "12 cat R 1 2"),
        (P.parse_pid_stat, "12 (cat) R 1 2"),
        (P.parse_cgroup_cpu_max, "max\n"),
        (P.parse_net_dev, "eth0: 1 2 3\n"),
    ],
)
def test_malformed_input_is_a_clear_error(parser: object, text: str) -> None:
    with pytest.raises(P.ProbeParseError):
        parser(text)  # type: ignore[operator]


def test_reader_on_synthetic_power_sources() -> None:
    r = HostReader(SYN)
    idle = r.cpuidle()
    assert [s.name for s in idle["cpu0"]] == ["POLL", "C1", "C6"]
    assert idle["cpu1"][2].latency_us == 85
    assert idle["cpu1"][2].time_us == 912_000_000
    freq = r.cpufreq()
    assert freq["cpu0"].cur_khz == 2_400_000
    assert freq["cpu0"].governor == "schedutil"
    assert freq["cpu0"].governors == ("performance", "schedutil", "powersave")
    rapl = r.rapl()
    assert [(z.zone, z.name) for z in rapl] == [
        ("intel-rapl:0", "package-0"),
        ("intel-rapl:0:0", "core"),
    ]
    hw = {(h.chip, h.sensor): h for h in r.hwmon()}
    assert hw[("acpi_power_meter", "power1")].raw == 87_500_000
    assert hw[("acpi_power_meter", "power1")].label == "Node Power"
    assert hw[("coretemp", "temp2")].kind == "temp"
    assert hw[("coretemp", "temp2")].label == "temp2"
    proc = r.process(77)
    assert proc is not None
    assert proc.rss_bytes == 2560 * 4096
    assert proc.read_bytes is None


def test_reader_absent_sources_are_empty() -> None:
    r = HostReader(HOST)
    assert r.cpuidle() == {}
    assert r.cpufreq() == {}
    assert r.rapl() == []
    assert r.hwmon() == []
    assert r.process(999_999) is None
    assert set(r.cpu()) == {"cpu", "cpu0", "cpu1"}
    assert "eth0" in r.net()
