"""magma's OpenFlow channel over TLS, against an emulated switch on loopback.

A throwaway CA, a server certificate for magma and a switch certificate are
made in a temp dir (``cryptography``). Checks: a switch speaking OpenFlow
(:class:`~openvolcano.ofp.connection.Connection`, in ``FakeSwitch``) over an
ssl-wrapped asyncio connection completes the handshake and magma lists it
over REST; with ``--tls-ca`` a switch without a certificate, or with one
from another CA, is dropped before any OpenFlow session; a plain-TCP switch
is dropped; bad TLS options of ``openvolcano magma`` are one line and exit
code 2.
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import ipaddress
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from openvolcano.cli.main import app as cli
from openvolcano.common.errors import InvalidInput
from openvolcano.ofp.connection import Connection, Role
from openvolcano.stratov.magma.app import create_app
from openvolcano.stratov.magma.controller import Magma, MagmaConfig
from openvolcano.stratov.magma.daemon import tls_context
from openvolcano.stratov.magma.fakeswitch import FakeSwitch

DPID = 0x7E


@dataclass(frozen=True)
class Pki:
    ca: Path
    server_cert: Path
    server_key: Path
    switch_cert: Path
    switch_key: Path


def _name(cn: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])


def _issue(
    out: Path, cn: str, issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None
) -> tuple[x509.Name, ec.EllipticCurvePrivateKey]:
    """Write ``out``.pem and ``out``-key.pem; ``issuer`` None: a self-signed CA."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.datetime.now(datetime.UTC)
    b = (
        x509.CertificateBuilder()
        .subject_name(_name(cn))
        .issuer_name(issuer[0] if issuer else _name(cn))
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - datetime.timedelta(hours=1))
        .not_valid_after(now + datetime.timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    if issuer is not None:
        san = [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
        b = b.add_extension(x509.SubjectAlternativeName(san), critical=False)
    cert = b.sign(issuer[1] if issuer else key, hashes.SHA256())
    out.with_suffix(".pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    out.with_name(f"{out.name}-key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return _name(cn), key


def make_pki(d: Path, prefix: str = "") -> Pki:
    ca = _issue(d / f"{prefix}ca", f"{prefix}test CA", None)
    _issue(d / f"{prefix}server", "magma", ca)
    _issue(d / f"{prefix}switch", "switch", ca)
    p = lambda n: d / f"{prefix}{n}"  # noqa: E731
    return Pki(p("ca.pem"), p("server.pem"), p("server-key.pem"), p("switch.pem"),
               p("switch-key.pem"))  # fmt: skip


def client_ctx(pki: Pki, *, cert: bool = True) -> ssl.SSLContext:
    ctx = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
    if cert:
        ctx.load_cert_chain(pki.switch_cert, pki.switch_key)
    return ctx


async def until(pred: Callable[[], bool], timeout: float = 10) -> None:  # noqa: ASYNC109
    async with asyncio.timeout(timeout):
        while not pred():  # noqa: ASYNC110 - waits on real sockets, bounded by the timeout
            await asyncio.sleep(0.01)


def with_magma(ctx: ssl.SSLContext, body: Callable[[Magma], Awaitable[None]]) -> None:
    async def main() -> None:
        magma = Magma(MagmaConfig(host="127.0.0.1", port=0, lldp_interval=0, ssl=ctx))
        listening = asyncio.Event()
        task = asyncio.create_task(magma.serve(lambda _port: listening.set()))
        try:
            await asyncio.wait_for(listening.wait(), 10)
            await body(magma)
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task

    asyncio.run(main())


async def dropped(reader: asyncio.StreamReader) -> None:
    """The server closes the connection: EOF or a TLS alert/reset, within a bound."""
    async with asyncio.timeout(10):
        with contextlib.suppress(ssl.SSLError, ConnectionError):
            while await reader.read(1 << 16):
                pass


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


@pytest.mark.parametrize("require_client_cert", [False, True])
def test_switch_over_tls_is_listed_over_rest(pki: Pki, require_client_cert: bool) -> None:
    ca = str(pki.ca) if require_client_cert else None

    async def body(magma: Magma) -> None:
        assert magma.port is not None
        sw = FakeSwitch(DPID)
        try:
            await sw.connect("127.0.0.1", magma.port, tls=client_ctx(pki))
            await asyncio.wait_for(sw.handshake_done.wait(), 10)
            transport = httpx.ASGITransport(app=create_app(magma))
            async with httpx.AsyncClient(transport=transport, base_url="http://magma") as http:
                switches = (await http.get("/switches")).json()
            assert [s["dpid"] for s in switches] == [f"{DPID:016x}"]
        finally:
            await sw.close()

    with_magma(tls_context(str(pki.server_cert), str(pki.server_key), ca), body)


def test_plain_tcp_and_unauthorised_switches_are_dropped(pki: Pki, tmp_path: Path) -> None:
    other = make_pki(tmp_path, prefix="other-")

    async def body(magma: Magma) -> None:
        assert magma.port is not None
        hello = Connection(Role.SWITCH).data_to_send()
        # trusts magma's CA, but its own certificate is from another CA
        foreign = ssl.create_default_context(ssl.Purpose.SERVER_AUTH, cafile=str(pki.ca))
        foreign.load_cert_chain(other.switch_cert, other.switch_key)
        attempts = [
            None,  # plain TCP: its HELLO is not a TLS ClientHello
            client_ctx(pki, cert=False),  # no switch certificate
            foreign,
        ]
        for tls in attempts:
            try:
                reader, writer = await asyncio.open_connection("127.0.0.1", magma.port, ssl=tls)
            except (ssl.SSLError, ConnectionError):
                continue  # refused during the handshake (TLS 1.2 client-cert check)
            try:
                writer.write(hello)
                await dropped(reader)
            finally:
                writer.close()
                with contextlib.suppress(ssl.SSLError, ConnectionError):
                    await writer.wait_closed()
            assert magma.sessions == {}
        # and a proper switch still gets in afterwards
        sw = FakeSwitch(DPID)
        try:
            await sw.connect("127.0.0.1", magma.port, tls=client_ctx(pki))
            await until(lambda: DPID in magma.sessions)
        finally:
            await sw.close()

    with_magma(tls_context(str(pki.server_cert), str(pki.server_key), str(pki.ca)), body)


def test_tls_context_errors_name_the_file(pki: Pki, tmp_path: Path) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(InvalidInput, match=f"cannot read TLS certificate {missing}"):
        tls_context(str(missing), str(pki.server_key))
    with pytest.raises(InvalidInput, match=f"cannot read TLS key {missing}"):
        tls_context(str(pki.server_cert), str(missing))
    with pytest.raises(InvalidInput, match=f"cannot read TLS CA {missing}"):
        tls_context(str(pki.server_cert), str(pki.server_key), str(missing))
    with pytest.raises(InvalidInput, match="not a matching PEM pair"):
        tls_context(str(pki.server_cert), str(pki.switch_key))
    with pytest.raises(InvalidInput, match="is not a PEM certificate"):
        tls_context(str(pki.server_cert), str(pki.server_key), str(pki.server_key))
    key = serialization.load_pem_private_key(pki.server_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"secret"),
        )
    )
    with pytest.raises(InvalidInput, match="the TLS key is encrypted"):  # no password prompt
        tls_context(str(pki.server_cert), str(encrypted))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--listen", "ssl:127.0.0.1:6653"], "TLS needs --tls-cert and --tls-key"),
        (["--listen", "tcp:127.0.0.1:6653", "--cert", "{cert}", "--key", "{key}"],
         "is plain TCP but --tls-cert is given"),
        (["--cert", "{cert}", "--key", "{missing}"], "cannot read TLS key {missing}"),
        (["--cert", "{cert}"], "--tls-cert and --tls-key go together"),
    ],
)  # fmt: skip
def test_cli_tls_options_are_one_clear_line(
    pki: Pki, tmp_path: Path, args: list[str], message: str
) -> None:
    paths = {"cert": pki.server_cert, "key": pki.server_key, "missing": tmp_path / "no.pem"}
    argv = ["magma", "--no-state-db", *(a.format(**paths) for a in args)]
    result = CliRunner().invoke(cli, argv)
    assert result.exit_code == 2, result.output
    assert message.format(**paths) in result.stderr
    assert "Traceback" not in result.stderr
