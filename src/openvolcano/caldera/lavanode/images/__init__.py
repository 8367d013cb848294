"""The image catalogue: services that stand for a user's home devices (paper section II).

Each module is a program (``python -m openvolcano.caldera.lavanode.images.<kind>
--port P --state-dir D``) with a ``/health`` check, its persistent state under
``D`` (the directory lava migrates) and a SIGTERM handler (it runs as PID 1 of
its namespace, where an unhandled SIGTERM would be ignored).
"""
