"""Make tests/conformance (frame builders, conformance cases) importable from the live tests."""

from __future__ import annotations

import sys
from pathlib import Path

_CONF = str(Path(__file__).resolve().parents[2] / "conformance")
if _CONF not in sys.path:
    sys.path.insert(0, _CONF)
