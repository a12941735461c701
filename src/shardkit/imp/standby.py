"""Warm standby WorldServers an imp keeps ready, so ``start_world`` is a hand-over.

Starting Python and importing a WorldServer takes seconds on a busy machine. A standby
(``shardkit world --standby FILE``, world/standby.py) has done that and waits; the imp
hands it a cluster by writing the assignment into a file only its owner can read and
sending SIGUSR1, then starts the next standby. A standby runs under the same ``Child``
supervision as any WorldServer (its heartbeat is heard while it waits).
"""

from __future__ import annotations

import os
import signal
from pathlib import Path

import msgspec

from shardkit.imp.schemas import STANDBY_READY, StandbyAssignment
from shardkit.runtime.process import Child, shardkit_command

STANDBY_NAME = "world standby"


def standby_command(root: Path, assignment_file: Path) -> list[str]:
    return shardkit_command("world", "--root", str(root), "--standby", str(assignment_file))


class Standby:
    """One standby process, from the imp's side."""

    def __init__(self, child: Child, assignment_file: Path) -> None:
        self.child = child
        self.file = assignment_file
        self.ready = False

    def heard(self, line: str) -> None:
        """A line of its output: the ready line makes it usable."""
        if STANDBY_READY in line:
            self.ready = True

    @property
    def usable(self) -> bool:
        return self.ready and self.child.running.is_set() and not self.child.stopping

    def assign(self, job: StandbyAssignment) -> Child:
        """Hand it its cluster (the file first, then the signal); its Child, renamed."""
        temp = self.file.with_suffix(".tmp")
        fd = os.open(temp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "wb") as out:
            out.write(msgspec.json.encode(job))
        temp.replace(self.file)
        self.ready = False
        self.child.name = f"world {job.world}/{job.cluster}"
        self.child.kill(signal.SIGUSR1)
        return self.child
