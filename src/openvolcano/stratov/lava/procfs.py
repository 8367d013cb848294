"""Small /proc readers used by the netns back-end of lava.

Role: lava watches the process trees of its netns virtual images without
entering their namespaces: ``/proc/<pid>/net/tcp`` shows the sockets of the
*process's* network namespace, ``/proc/<pid>/task/<pid>/children`` the direct
children, ``/proc/<pid>/io`` the bytes read and written.

Invariants: readers never raise for a process that vanished (it answers "no
children", "not listening", "no I/O"); they only read.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["children_of", "io_bytes", "listening", "pid_alive"]

_TCP_LISTEN = "0A"


def children_of(pid: int) -> list[int]:
    """Direct children of ``pid`` (empty if it is gone)."""
    try:
        text = Path(f"/proc/{pid}/task/{pid}/children").read_text()
    except OSError:
        return []
    return [int(x) for x in text.split()]


def pid_alive(pid: int) -> bool:
    """Whether ``pid`` exists and is not a zombie."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return False
    return stat.rsplit(")", 1)[1].split()[0] != "Z"


def listening(pid: int, port: int) -> bool:
    """Whether some socket in ``pid``'s network namespace listens on TCP ``port``."""
    for table in ("tcp", "tcp6"):
        try:
            lines = Path(f"/proc/{pid}/net/{table}").read_text().splitlines()[1:]
        except OSError:
            continue
        for line in lines:
            fields = line.split()
            if (
                len(fields) > 3
                and fields[3] == _TCP_LISTEN
                and int(fields[1].rsplit(":", 1)[1], 16) == port
            ):
                return True
    return False


def io_bytes(pids: list[int]) -> tuple[int, int]:
    """Bytes read and written through system calls (``rchar``, ``wchar``) by ``pids``."""
    read = written = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/io").read_text().splitlines()
        except OSError:
            continue
        values = dict(line.split(": ", 1) for line in lines if ": " in line)
        read += int(values.get("rchar", "0"))
        written += int(values.get("wchar", "0"))
    return read, written
