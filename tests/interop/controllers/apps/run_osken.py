"""Run os-ken applications as an OpenFlow controller: ``python run_osken.py --port N APP...``.

Role: os-ken 4.x (the version pinned in the project's ``.venv``) no longer
ships the ``osken-manager`` command, so the interop harness starts os-ken with
this small launcher instead. It does what that command did for us: register
os-ken's options, set the OpenFlow listen address, configure logging to
stderr (the harness redirects it to a log file), then load and run the
applications (each a module name or a ``.py`` path) until SIGTERM.

Invariant: the listen options are parsed *after* ``os_ken.controller.controller``
is imported (it registers them), and before any application is loaded.
"""

from __future__ import annotations

import argparse
import logging
import sys


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1", help="OpenFlow listen address")
    parser.add_argument("--port", type=int, required=True, help="OpenFlow TCP listen port")
    parser.add_argument("apps", nargs="+", help="os-ken application modules or .py files")
    args = parser.parse_args(argv)

    logging.basicConfig(
        level=logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(levelname)s %(message)s",
    )
    from os_ken import cfg
    from os_ken.base.app_manager import AppManager
    from os_ken.controller import controller  # noqa: F401 - registers the ofp-* options

    cfg.CONF(
        args=[f"--ofp-listen-host={args.host}", f"--ofp-tcp-listen-port={args.port}"],
        project="os_ken",
    )
    AppManager.run_apps(args.apps)
    return 0


if __name__ == "__main__":
    sys.exit(main())
