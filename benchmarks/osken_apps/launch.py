"""Start os-ken 4.x with one application: ``python launch.py --port N APP.py`` (magma bench).

os-ken 4.x has no ``osken-manager`` command; this launcher registers the
OpenFlow listen options, sets them, and runs the application until killed.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main() -> int:
    parser = argparse.ArgumentParser(description="run one os-ken app for the magma benchmark")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("app")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, stream=sys.stderr)
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager
    from os_ken.controller import controller  # noqa: F401 - registers --ofp-* options

    cfg.CONF(args=["--ofp-listen-host=127.0.0.1", f"--ofp-tcp-listen-port={args.port}"],
             project="os_ken")  # fmt: skip
    AppManager.run_apps([args.app])
    return 0


if __name__ == "__main__":
    sys.exit(main())
