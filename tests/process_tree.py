"""A process tree read from /proc (Linux): what descends from a pid, and what still runs."""

from __future__ import annotations

import os
import time
from dataclasses import dataclass
from pathlib import Path

PROC = Path("/proc")


@dataclass(frozen=True)
class Proc:
    pid: int
    ppid: int
    state: str
    started: int  # clock ticks after boot: tells a reused pid from the process we saw
    argv: tuple[str, ...]

    @property
    def running(self) -> bool:
        return self.state not in ("Z", "X")  # a zombie has stopped; only its exit is unread


def read_proc(pid: int) -> Proc | None:
    try:
        stat = (PROC / str(pid) / "stat").read_text()
        raw = (PROC / str(pid) / "cmdline").read_bytes()
    except (FileNotFoundError, ProcessLookupError, PermissionError):
        return None
    fields = stat[stat.rindex(")") + 2:].split()  # after "pid (comm) "
    argv = tuple(part.decode(errors="replace") for part in raw.split(b"\0") if part)
    return Proc(pid, int(fields[1]), fields[0], int(fields[19]), argv)


def all_processes() -> list[Proc]:
    found = []
    for entry in os.listdir(PROC):
        if entry.isdigit():
            proc = read_proc(int(entry))
            if proc is not None:
                found.append(proc)
    return found


def descendants(root: int) -> list[Proc]:
    """Every running process below ``root`` (children, grandchildren, ...), root excluded."""
    processes = all_processes()
    children: dict[int, list[Proc]] = {}
    for proc in processes:
        children.setdefault(proc.ppid, []).append(proc)
    found: list[Proc] = []
    todo = [root]
    while todo:
        for child in children.get(todo.pop(), []):
            if child.running:
                found.append(child)
                todo.append(child.pid)
    return found


def still_running(procs: list[Proc]) -> list[Proc]:
    """Those of ``procs`` that still run (the same process: same pid and start time)."""
    left = []
    for proc in procs:
        now = read_proc(proc.pid)
        if now is not None and now.started == proc.started and now.running:
            left.append(now)
    return left


def wait_until_gone(procs: list[Proc], timeout: float, poll_s: float = 0.02) -> list[Proc]:
    """Poll (bounded) until none of ``procs`` runs; returns those still running at the deadline."""
    deadline = time.monotonic() + timeout
    while True:
        left = still_running(procs)
        if not left or time.monotonic() >= deadline:
            return left
        time.sleep(poll_s)


def find(procs: list[Proc], *words: str) -> Proc:
    """The one process whose command line holds every word of ``words`` as an argument."""
    matches = [p for p in procs if all(word in p.argv for word in words)]
    assert len(matches) == 1, f"{len(matches)} processes with {words}: {procs}"
    return matches[0]
