"""Open vSwitch connects to a real ``openvolcano magma`` over TLS, both sides authenticated.

A throwaway CA signs magma's certificate and the switch's (``cryptography``,
in a temp dir). magma runs as a process with ``--listen ssl:127.0.0.1:PORT
--cert --key --ca`` (switches must present a certificate of that CA); a
private OVS gets ``ovs-vsctl set-ssl KEY CERT CACERT`` and a bridge whose
controller is ``ssl:127.0.0.1:PORT``. magma must list the bridge over REST,
and program a flow through it (magma listens only with TLS, so the session
is the TLS one). magma is stopped by pid; the bridge is removed with the private OVS.
"""

from __future__ import annotations

import datetime
import ipaddress
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from magma_lab import OPENVOLCANO, free_port, poll_until, stop_process

from openvolcano.netlab.ovs import PrivateOvs

pytestmark = [pytest.mark.root, pytest.mark.ovs]

DPID = 0xD7


def issue(
    d: Path, name: str, ca: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    """Write ``name``.pem and ``name``-key.pem under ``d``; ``ca`` None: a self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, f"ov test {name}")])
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(ca[0] if ca else subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=ca is None, path_length=None), critical=True)
    )
    if ca is not None:
        ip = x509.IPAddress(ipaddress.ip_address("127.0.0.1"))
        b = b.add_extension(x509.SubjectAlternativeName([ip]), critical=False)
    cert = b.sign(ca[1] if ca else key, hashes.SHA256())
    (d / f"{name}.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (d / f"{name}-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return subject, key


def poll(what: str, pred: Callable[[], bool], proc: subprocess.Popen[bytes], log: Path) -> None:
    poll_until(what, pred, proc, lambda: log.read_text()[-2000:])


def test_ovs_connects_to_magma_over_mutual_tls(ovs: PrivateOvs, tmp_path: Path) -> None:
    ca = issue(tmp_path, "ca", None)
    issue(tmp_path, "magma", ca)
    issue(tmp_path, "switch", ca)
    of_port, api_port = free_port(), free_port()
    target = f"ssl:127.0.0.1:{of_port}"
    log = tmp_path / "magma.log"
    argv = [OPENVOLCANO, "magma", "--listen", target, "--api", f"127.0.0.1:{api_port}",
            "--cert", str(tmp_path / "magma.pem"), "--key", str(tmp_path / "magma-key.pem"),
            "--ca", str(tmp_path / "ca.pem"), "--no-state-db", "--lldp-interval", "0"]  # fmt: skip
    with log.open("wb") as out:
        proc = subprocess.Popen(argv, stdin=subprocess.DEVNULL, stdout=out, stderr=out)
    http = httpx.Client(base_url=f"http://127.0.0.1:{api_port}", timeout=5)
    try:
        poll("REST", lambda: http.get("/switches").status_code == 200, proc, log)
        ovs.vsctl("set-ssl", str(tmp_path / "switch-key.pem"), str(tmp_path / "switch.pem"),
                  str(tmp_path / "ca.pem"))  # fmt: skip
        br = f"mgtls{os.getpid() % 10000}"
        ovs.add_bridge(br, controller=target, datapath_id=DPID)

        def listed() -> bool:
            return [s["dpid"] for s in http.get("/switches").json()] == [f"{DPID:016x}"]

        poll("the switch over TLS", listed, proc, log)

        out = [{"type": "apply_actions", "actions": [{"type": "output", "port": 2}]}]
        flow = {"priority": 77, "match": {"in_port": 1}, "instructions": out}
        r = http.put("/owners/pn-tls", json={"switches": {f"{DPID:x}": {"flows": [flow]}}})
        assert r.status_code == 200, r.text
        assert r.json() == {f"{DPID:016x}": True}
        assert "priority=77,in_port=1" in ovs.ofctl("dump-flows", br)
    finally:
        http.close()
        stop_process(proc)
