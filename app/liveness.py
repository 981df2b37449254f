"""Whether the process running a job's stage is still there, told at once rather than after
the heartbeat timeout: a stage records the identity of its process (``jobs.worker``), and a
worker on the same machine, in the same PID namespace, can see that process gone.

An identity is ``host:pidns:pid:start``: the host name, the PID namespace (a container has
its own), the process id and its start time in clock ticks since boot (a pid reused by a
later process has another start time). A process on another machine, or in another
namespace, is never judged gone here; a stage's owner (``owner_identity``) also names the
worker that forked it, whose beats (app/workerbeats.py) stop when it dies, wherever it ran.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path


def process_identity(pid: int | None = None) -> str:
    """The identity of process ``pid`` (default: this one) as seen from this machine."""
    pid = os.getpid() if pid is None else pid
    return f"{_here()}:{pid}:{_start_time(pid) or ''}"


def owner_identity() -> str:
    """``process|parent``: this process, and the one that started it (for a pool child,
    its worker's main process, the identity that worker beats under)."""
    return f"{process_identity()}|{process_identity(os.getppid())}"


def parent_of(owner: str | None) -> str | None:
    """The parent part of an ``owner_identity``; None for a bare identity."""
    return owner.split("|", 1)[1] if owner and "|" in owner else None


def is_gone(identity: str | None) -> bool:
    """True only when ``identity`` (or the process part of an ``owner_identity``) names a
    process of this machine and PID namespace that no longer runs (it exited, or its pid
    now belongs to a later process)."""
    identity = identity.split("|", 1)[0] if identity else identity
    if not identity or identity.count(":") < 3:
        return False  # written by an older release (a host name alone): unknown
    place, pid_text, start = identity.rsplit(":", 2)
    if place != _here() or not pid_text.isdigit() or not start:
        return False
    now = _start_time(int(pid_text))
    return now is None or now != start


def same_place_prefix() -> str:
    """The prefix shared by the identities of every process this one can judge."""
    return _here() + ":"


def _here() -> str:
    try:
        namespace = os.readlink("/proc/self/ns/pid")
    except OSError:
        namespace = "?"
    return f"{socket.gethostname()}:{namespace.replace(':', '')}"


def _start_time(pid: int) -> str | None:
    """The process's start time (field 22 of /proc/PID/stat); None when it does not run."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    fields = stat.rsplit(")", 1)[1].split()
    return fields[19] if len(fields) > 19 else None
