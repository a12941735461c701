"""Harness for tests and benchmarks: free ports, test cluster config, processes to await."""

from __future__ import annotations

import json
import os
import random
import signal
import socket
import subprocess
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

FIXED_PORT_RANGE = (20000, 32000)
"""Where tests pick fixed ports: below Linux's ephemeral range (32768-60999), so a port that
the kernel hands to some other socket (a zone on port 0, an outgoing connection) can never
take a port a test cluster was told to listen on between choosing it and binding it."""


def free_port() -> int:
    """A loopback port that is free now, outside the kernel's ephemeral range."""
    for _ in range(1000):
        port = random.randrange(*FIXED_PORT_RANGE)
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def write_cluster_config(root: Path, *, world: str = "Atlantis",
                         zones: tuple[str, ...] = ("town", "meadow"),
                         extra_clusters: str = "", database_urls: dict[str, str] | None = None,
                         save_interval_s: float = 30.0, cluster0_runs_on: str = "local",
                         master_options: dict[str, object] | None = None,
                         capacity: int = 100, content_dir: str = "", world_extra: str = "",
                         tick_hz: float = 20.0) -> None:
    """serverconfig/ for a test cluster: fixed services on free ports, worlds and zones on any port.

    ``master_options`` adds keys to [master] (e.g. ``{"session_policy": "refuse"}``);
    ``content_dir`` is the cluster's content (default: the shipped one); ``world_extra`` is
    TOML put in the world's file after its top-level keys (more keys, or an ``[ssh]`` table).
    """
    urls = database_urls or {}
    master = {"heartbeat_timeout_s": 3.0, "status_port": 0, **(master_options or {})}
    master_lines = "".join(f"{key} = {_toml_value(value)}\n" for key, value in master.items())
    config = root / "serverconfig"
    (config / "worlds").mkdir(parents=True, exist_ok=True)
    (config / "server.toml").write_text(f"""
[cluster]
data_dir = "data"
{f"content_dir = {json.dumps(content_dir)}" if content_dir else ""}
[master]
port = {free_port()}
database_url = "{urls.get('master', '')}"
{master_lines}[master.manhole]
port = {free_port()}
[gm]
port = {free_port()}
database_url = "{urls.get('gm', '')}"
[characters]
database_url = "{urls.get('characters', '')}"
save_interval_s = {save_interval_s}
[web]
port = 0
""")
    zone_list = ", ".join(f'"{z}"' for z in zones)
    (config / "worlds" / f"{world}.toml").write_text(f"""
name = "{world}"
capacity = {capacity}
world_port = 0
ssh_port = 0
zone_base_port = 0
tick_hz = {tick_hz}
{world_extra}
[daemon]
world_port = {free_port()}
characters_port = {free_port()}
imp_port = {free_port()}
[daemon.console]
port = {free_port()}
[[clusters]]
number = 0
zones = [{zone_list}]
runs_on = "{cluster0_runs_on}"
{extra_clusters}
""")
    from shardkit.config.defaults import ensure_config

    ensure_config(root)  # secrets


def _toml_value(value: object) -> str:
    """A Python value as TOML (bool, number, string or list of those)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, list | tuple):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return json.dumps(str(value))


@dataclass
class RunningProcess:
    """A child process whose output lines are collected as they come, so tests can wait for one."""

    process: subprocess.Popen[str]
    lines: list[str] = field(default_factory=list)
    cond: threading.Condition = field(default_factory=threading.Condition)
    eof: bool = False

    def _reader(self) -> None:
        assert self.process.stdout is not None
        for line in self.process.stdout:
            with self.cond:
                self.lines.append(line.rstrip("\n"))
                self.cond.notify_all()
        with self.cond:
            self.eof = True
            self.cond.notify_all()

    def start_reader(self) -> None:
        threading.Thread(target=self._reader, daemon=True).start()

    def wait_for_line(self, text: str, timeout: float = 60.0, start: int = 0) -> int:
        """Index of the first line from ``start`` on that contains ``text``."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while True:
                for index in range(start, len(self.lines)):
                    if text in self.lines[index]:
                        return index
                remaining = deadline - time.monotonic()
                if remaining <= 0 or self.eof:
                    tail = "\n".join(self.lines[-40:])
                    raise AssertionError(f"no line with {text!r} in time; last output:\n{tail}")
                self.cond.wait(min(remaining, 1.0))

    def stop(self, timeout: float = 40.0) -> int:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)
            try:
                return self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
        return self.process.wait()


def start_shardkit(root: Path, *args: str) -> RunningProcess:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    process = subprocess.Popen(
        [sys.executable, "-m", "shardkit", *args, "--root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env,
        start_new_session=True,
    )
    running = RunningProcess(process)
    running.start_reader()
    return running
