"""Entry point of the ``openvolcano`` command.

Each plane or tool contributes one typer sub-application from its own
``cli/<name>.py`` module; this file only assembles them. Every subcommand has
``--help``.
"""

from __future__ import annotations

import typer

from openvolcano import __version__
from openvolcano.cli import demo, geyser, lava, magma, netlab, ofp, quake

app = typer.Typer(
    name="openvolcano",
    help=(
        "OpenVolcano fog/edge computing platform: StratoV control plane "
        "(magma, crater, conduit, ...) and Caldera data plane (quake switch, geyser agent)."
    ),
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


@app.command()
def version() -> None:
    """Print the OpenVolcano version."""
    typer.echo(__version__)


# Sub-applications: one line per module (keep sorted).
app.command("demo")(demo.demo)
app.add_typer(geyser.app, name="geyser")
app.add_typer(lava.app, name="lava")
app.add_typer(magma.app, name="magma")
app.add_typer(netlab.app, name="netlab")
app.add_typer(ofp.app, name="ofp")
app.add_typer(quake.app, name="quake")


def main() -> None:
    """Console-script entry point."""
    app()
