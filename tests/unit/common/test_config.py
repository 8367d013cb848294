"""Configuration loading: precedence defaults < file < environment, and errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import BaseModel, ConfigDict

from openvolcano.common.config import ConfigError, load_config


class _Magma(BaseModel):
    listen_port: int = 6653
    host: str = "127.0.0.1"
    debug: bool = False
    peers: list[str] = []


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "openvolcano.toml"
    path.write_text(text)
    return path


def test_defaults_without_file() -> None:
    assert load_config(None, "magma", _Magma, env={}) == _Magma()


def test_file_then_env_override(tmp_path: Path) -> None:
    path = _write(tmp_path, '[magma]\nlisten_port = 7000\nhost = "0.0.0.0"\n[other]\nx = 1\n')
    cfg = load_config(path, "magma", _Magma, env={"OPENVOLCANO_MAGMA_HOST": "::1"})
    assert cfg == _Magma(listen_port=7000, host="::1")
    env = {
        "OPENVOLCANO_MAGMA_LISTEN_PORT": "6654",
        "OPENVOLCANO_MAGMA_DEBUG": "true",
        "OPENVOLCANO_MAGMA_PEERS": '["a", "b"]',
    }
    cfg = load_config(path, "magma", _Magma, env=env)
    assert (cfg.listen_port, cfg.debug, cfg.peers) == (6654, True, ["a", "b"])


def test_missing_section_means_defaults_and_dotted_sections(tmp_path: Path) -> None:
    path = _write(tmp_path, "[stratov.magma]\nlisten_port = 1\n")
    assert load_config(path, "quake", _Magma, env={}) == _Magma()
    assert load_config(path, "stratov.magma", _Magma, env={}).listen_port == 1
    env = {"OPENVOLCANO_STRATOV_MAGMA_LISTEN_PORT": "2"}
    assert load_config(path, "stratov.magma", _Magma, env=env).listen_port == 2


def test_bad_value_names_file_section_field(tmp_path: Path) -> None:
    path = _write(tmp_path, '[magma]\nlisten_port = "high"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path, "magma", _Magma, env={})
    message = str(info.value)
    assert str(path) in message
    assert "[magma] listen_port" in message
    assert "'high'" in message


def test_bad_env_value_names_the_variable() -> None:
    with pytest.raises(ConfigError, match="environment OPENVOLCANO_MAGMA_LISTEN_PORT"):
        load_config(None, "magma", _Magma, env={"OPENVOLCANO_MAGMA_LISTEN_PORT": "x"})
    with pytest.raises(ConfigError, match="OPENVOLCANO_MAGMA_PEERS: not valid JSON"):
        load_config(None, "magma", _Magma, env={"OPENVOLCANO_MAGMA_PEERS": "[a"})


def test_unknown_key_is_an_error_unless_model_allows_extra(tmp_path: Path) -> None:
    path = _write(tmp_path, "[magma]\nlisten_prot = 1\n")
    with pytest.raises(ConfigError, match=r"unknown setting.*listen_prot.*listen_port"):
        load_config(path, "magma", _Magma, env={})

    class _Loose(BaseModel):
        model_config = ConfigDict(extra="allow")

    assert load_config(path, "magma", _Loose, env={}).model_extra == {"listen_prot": 1}


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("[magma\n", "not valid TOML"),
        ("magma = 3\n", r"\[magma\] must be a table"),
    ],
)
def test_broken_files(tmp_path: Path, text: str, match: str) -> None:
    with pytest.raises(ConfigError, match=match):
        load_config(_write(tmp_path, text), "magma", _Magma, env={})


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="configuration file not found"):
        load_config(tmp_path / "nope.toml", "magma", _Magma, env={})
