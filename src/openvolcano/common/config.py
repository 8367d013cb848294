"""Daemon configuration: one TOML file, one section per daemon, environment overrides, typed by pydantic.

Role: every daemon (``quake``, ``geyser``, ``stratov``...) describes its settings
as a pydantic model with defaults and calls
``load_config(path, "magma", MagmaConfig)``. Running with no file at all must
work (the laptop default); a file overrides defaults; environment variables
override the file (containers, CI).

Precedence, lowest first:

1. the model's defaults;
2. the table ``[section]`` of the TOML file (dotted sections ``"stratov.magma"``
   name nested tables); a missing table means "all defaults";
3. ``OPENVOLCANO_<SECTION>_<FIELD>`` environment variables (section dots become
   ``_``, all upper case), e.g. ``OPENVOLCANO_MAGMA_LISTEN_PORT=6653``. Values are
   strings and are coerced by pydantic (``"6653"`` -> ``6653``, ``"true"`` -> ``True``);
   values of list/dict fields are read as JSON.

Invariants: every failure raises :class:`ConfigError` (an
:class:`~openvolcano.common.errors.InvalidInput`) whose message names the
file (or environment variable), the section and the field - never a bare
pydantic traceback. Unknown keys in the section are errors (a typo must not
silently fall back to a default) unless the model sets ``extra="allow"``.
"""

from __future__ import annotations

import json
import os
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from openvolcano.common.errors import InvalidInput

__all__ = ["ENV_PREFIX", "ConfigError", "load_config"]

ENV_PREFIX = "OPENVOLCANO"

M = TypeVar("M", bound=BaseModel)


class ConfigError(InvalidInput):
    """The configuration file or environment holds a value the daemon cannot use."""


def load_config(
    path: str | Path | None,
    section: str,
    model: type[M],
    *,
    env: Mapping[str, str] | None = None,
) -> M:
    """Load ``[section]`` of the TOML file at ``path`` (or only defaults if ``None``) into ``model``.

    ``env`` defaults to :data:`os.environ`; tests pass a dict.
    """
    environ = os.environ if env is None else env
    source = "defaults"
    values: dict[str, Any] = {}
    if path is not None:
        source = str(path)
        values = _read_section(Path(path), section)
    env_values = _env_section(environ, section, model)
    _check_keys(values, model, f"{source} [{section}]")
    merged = {**values, **{field: raw for field, (_, raw) in env_values.items()}}
    try:
        return model.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_describe(exc, source, section, env_values)) from None


def _read_section(path: Path, section: str) -> dict[str, Any]:
    try:
        with path.open("rb") as fh:
            document = tomllib.load(fh)
    except FileNotFoundError:
        raise ConfigError(f"{path}: configuration file not found") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read configuration file: {exc.strerror}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    node: Any = document
    for part in section.split("."):
        if not isinstance(node, dict):
            raise ConfigError(f"{path}: [{section}] must be a table")
        node = node.get(part, {})
    if not isinstance(node, dict):
        raise ConfigError(f"{path}: [{section}] must be a table, not a {type(node).__name__}")
    return dict(node)


def _env_name(section: str, field: str) -> str:
    return f"{ENV_PREFIX}_{section.replace('.', '_')}_{field}".upper()


def _env_section(
    environ: Mapping[str, str], section: str, model: type[BaseModel]
) -> dict[str, tuple[str, Any]]:
    """Return ``{field: (env var name, value)}`` for the fields set in the environment."""
    found: dict[str, tuple[str, Any]] = {}
    for name, field in model.model_fields.items():
        key = field.alias or name
        var = _env_name(section, name)
        if var not in environ:
            continue
        raw: Any = environ[var]
        origin = getattr(field.annotation, "__origin__", field.annotation)
        if origin in (list, dict, tuple, set, frozenset):
            try:
                raw = json.loads(raw)
            except json.JSONDecodeError as exc:
                raise ConfigError(f"environment {var}: not valid JSON ({exc.msg})") from None
        found[key] = (var, raw)
    return found


def _check_keys(values: Mapping[str, Any], model: type[BaseModel], where: str) -> None:
    if model.model_config.get("extra") == "allow":
        return
    known = set(model.model_fields)
    known |= {f.alias for f in model.model_fields.values() if f.alias}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"{where}: unknown setting(s) {', '.join(unknown)}; "
            f"valid settings are {', '.join(sorted(known)) or '(none)'}"
        )


def _describe(
    exc: ValidationError, source: str, section: str, env_values: Mapping[str, tuple[str, Any]]
) -> str:
    problems = []
    for error in exc.errors(include_url=False):
        loc = [str(part) for part in error["loc"]]
        field = loc[0] if loc else ""
        where = f"environment {env_values[field][0]}" if field in env_values else source
        dotted = ".".join(loc) or "(section)"
        got = f" (got {error['input']!r})" if "input" in error and loc else ""
        problems.append(f"{where} [{section}] {dotted}: {error['msg']}{got}")
    return "; ".join(problems)
