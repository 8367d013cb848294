"""The ``openvolcano`` command (typer).

Each subcommand is a thin front over a library: daemons are started as
processes and run in the foreground until SIGTERM.
"""
