"""``openvolcano lava agent --server NAME[:NETNS[:BRIDGE]]``: where a netns server's image NICs go."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from openvolcano.cli.lava import app, parse_server
from openvolcano.common.errors import InvalidInput


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("local", ("local", None, None)),
        ("srv-a:ovd-srva-1f2e", ("srv-a", "ovd-srva-1f2e", None)),
        ("srv-a:ovd-srva-1f2e:br0", ("srv-a", "ovd-srva-1f2e", "br0")),
        ("srv-a::", ("srv-a", None, None)),
    ],
)
def test_server_specs(text: str, expected: tuple[str, str | None, str | None]) -> None:
    assert parse_server(text) == expected


@pytest.mark.parametrize(
    "text", ["", "Srv", "a:b:c:d", "a::br0", "a:ns/x", "a:ns:bridge-name-too-long", "a:ns:b r"]
)
def test_bad_server_specs_are_one_clear_error(text: str) -> None:
    with pytest.raises(InvalidInput, match="bad --server"):
        parse_server(text)


def test_namespace_for_a_non_netns_backend_is_refused_without_traceback() -> None:
    result = CliRunner().invoke(app, ["agent", "--backend", "fake", "--server", "a:ns1"])
    assert result.exit_code == 1
    assert "netns back-end only" in result.output
    assert result.exception is None or isinstance(result.exception, SystemExit)
