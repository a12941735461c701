"""``shardkit up``: the whole cluster on one machine, each component its own process."""

from __future__ import annotations

import asyncio
import json
import logging
import os
import re
from collections.abc import Callable
from pathlib import Path
from typing import TextIO

from shardkit.config.defaults import ensure_config
from shardkit.config.settings import Settings, load_settings
from shardkit.runtime.output import stdout_relay
from shardkit.runtime.private_files import ensure_private_dir, open_private_append, secure_data_dir
from shardkit.runtime.process import Child, shardkit_command

log = logging.getLogger("shardkit.up")

READY_LINE = "shardkit cluster is up"
_LOG_LINE = re.compile(r"^(\[[^\]]+\] )*\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d+ \S+ (INFO|DEBUG) ")
_LISTENING = re.compile(r"^(?:\[[^\]]*\] )*(?P<what>.+?) listening on (?P<host>\S+):(?P<port>\d+)")
_METRICS = re.compile(r"^(?P<process>.+) metrics \(http\)$")
MASTER_STATUS = "master status page (http)"  # the master's /metrics is on its status page
METRICS_TARGETS_FILE = "metrics-targets.json"


def show(text: str) -> None:
    """One of our own lines for the person running ``shardkit up`` (never dropped)."""
    stdout_relay().write_line(text, essential=True)


def show_relayed(text: str) -> None:
    """A child's line for the terminal; dropped, and counted, if the terminal falls behind."""
    stdout_relay().write_line(text)


class ClusterLauncher:
    """Starts every component as a child process, shows what they say, stops them in order.

    Nothing a child says can stall it: what it writes is drained by its ``Child``, and the
    terminal is written by a thread that drops (and counts) lines when it falls behind.
    """

    def __init__(self, settings: Settings, out: Callable[[str], None] = show_relayed) -> None:
        self.settings = settings
        self.out = out
        self.log_dir = settings.data_dir / "logs"
        ensure_private_dir(self.log_dir, what="log folder")
        self._log_files: dict[str, TextIO] = {}
        self.children: list[Child] = []
        self.expected = {"master listening", "gm listening"}
        if settings.server.web.enabled:
            self.expected.add("web listening")
        for world in settings.worlds.values():
            self.expected.add(f"world {world.name} is on the master's list")
            for spec in world.clusters:
                if spec.runs_on == "local" or spec.runs_on == "imp:local":
                    self.expected.add(f"world {world.name}/{spec.number} ready")
        self.seen: set[str] = set()
        self.ready = asyncio.Event()
        self.ports: dict[str, int] = {}  # "master", "zone town", ...: the port it announced
        self.metrics: dict[str, str] = {}  # process -> host:port of its /metrics
        self.metrics_file = settings.data_dir / METRICS_TARGETS_FILE

    def _on_line(self, name: str, line: str) -> None:
        handle = self._log_files.get(name)
        if handle is None:
            path = self.log_dir / f"{name.replace(' ', '-')}.log"
            handle = self._log_files[name] = open_private_append(path)
        handle.write(line + "\n")
        handle.flush()
        if _LOG_LINE.match(line):
            return
        self.out(f"{name:>10} | {line}")
        listening = _LISTENING.match(line)
        if listening:
            self.ports[listening["what"]] = int(listening["port"])
            self._metrics_seen(listening["what"], listening["host"], listening["port"])
        for marker in self.expected - self.seen:
            if marker in line:
                self.seen.add(marker)
        if not self.ready.is_set() and self.seen == self.expected:
            self.ready.set()

    def _metrics_seen(self, what: str, host: str, port: str) -> None:
        """A process said where its /metrics is: keep the Prometheus targets file up to date."""
        found = _METRICS.match(what)
        process = "master" if what == MASTER_STATUS else found["process"] if found else None
        if process is None or self.metrics.get(process) == f"{host}:{port}":
            return
        self.metrics[process] = f"{host}:{port}"
        self.write_metrics_targets()

    def write_metrics_targets(self) -> None:
        """``data/metrics-targets.json``: every process's /metrics, for Prometheus' file_sd."""
        targets = [{"targets": [address], "labels": {"shardkit_process": process}}
                   for process, address in sorted(self.metrics.items())]
        temporary = self.metrics_file.with_suffix(".tmp")
        try:
            temporary.write_text(json.dumps(targets, indent=1) + "\n")
            os.replace(temporary, self.metrics_file)
        except OSError as exc:
            log.warning("could not write %s: %s", self.metrics_file, exc)

    def _on_exit(self, child: Child, code: int) -> None:
        if code != 0 and not child.stopping:
            self.out(f"{child.name:>10} | {child.exit_reason} (see {self.log_dir}); restarting")

    def _child(self, name: str, *args: str) -> Child:
        child = Child(
            name, shardkit_command(*args, "--root", str(self.settings.root)),
            on_line=self._on_line, on_exit=self._on_exit,
            hang_timeout_s=self.settings.server.cluster.hang_timeout_s,
        )
        self.children.append(child)
        return child

    def start(self) -> None:
        self._child("gm", "gm").start()
        self._child("master", "master").start()
        self._child("characters", "characters").start()
        if self.settings.server.web.enabled:
            self._child("web", "web").start()
        for world in self.settings.worlds.values():
            self._child(f"daemon-{world.name}", "daemon", "--world", world.name).start()
            self._child(
                f"imp-{world.name}", "imp", "--daemon-ip", world.daemon.host,
                "--daemon-port", str(world.daemon.imp_port), "--name", "local",
                "--world", world.name,
            ).start()

    def port(self, what: str, configured: int) -> str:
        """The port ``what`` announced it listens on; else the configured one, unless that is 0."""
        if what in self.ports:
            return str(self.ports[what])
        return str(configured) if configured else "(any free port)"

    def summary(self) -> str:
        s = self.settings
        m = s.server.master
        manhole = m.manhole
        lines = [
            "",
            f"  players connect to the master at {s.server.cluster.public_address}:"
            f"{self.port('master', m.port)}",
            f"  manhole: telnet {manhole.host} {self.port('master manhole (telnet)', manhole.port)}"
            f" (user {manhole.username})",
            f"  status page: http://{m.status_host}:"
            f"{self.port(MASTER_STATUS, m.status_port)}/ (metrics at /metrics)",
        ]
        web = s.server.web
        if web.enabled:
            scheme = "https" if web.tls_cert else "http"
            lines.append(f"  browsers: {scheme}://{web.host}:{self.port('web', web.port)}/"
                         " (WebSocket bridge at /ws)")
        lines.append(f"  metrics: {len(self.metrics)} processes serve /metrics; Prometheus"
                     f" targets in {self.metrics_file}")
        for world in s.worlds.values():
            console = world.daemon.console
            lines.append(f"  world {world.name}: daemon console telnet {console.host}"
                         f" {self.port(f'daemon {world.name} console (telnet)', console.port)}")
            for spec in world.clusters:
                base = world.ssh.port or (world.ssh_port + spec.number if world.ssh_port else 0)
                port = self.port(f"world {world.name}/{spec.number} console (ssh)", base)
                lines.append(f"    world server {spec.number} console: ssh -p {port}"
                             f" {world.ssh.username}@{world.ssh.host}")
        lines += [f"  passwords: {s.config_dir / 'secrets.toml'}", f"  logs: {self.log_dir}",
                  *self.next_steps(), READY_LINE, ""]
        return "\n".join(lines)

    def next_steps(self) -> list[str]:
        """What to do now that the cluster is ready: play, in a terminal or a browser."""
        web = self.settings.server.web
        lines = ["", "  ready. play in this terminal: shardkit play"
                     "   (line by line: shardkit play --plain)"]
        if web.enabled:
            url = (f"{'https' if web.tls_cert else 'http'}://{web.host}:"
                   f"{self.port('web', web.port)}/")
            lines.append(f"         play in a browser: {url}   dashboard: {url}dashboard")
        lines.append("         first steps: docs/first-steps.md   stop: Ctrl-C")
        return lines

    async def stop(self) -> None:
        # the web bridge first (browsers' links close, as players' own would), imps and
        # daemons next (their world servers save players through the character server), then
        # the character server, then master and GM.
        order = sorted(self.children, key=lambda c: (c.name != "web",
                                                      not c.name.startswith("imp"),
                                                      not c.name.startswith("daemon"),
                                                      c.name != "characters"))
        for child in order:
            await child.stop(timeout=20.0)
        for handle in self._log_files.values():
            handle.close()
        self._log_files.clear()


async def run_up(root: Path, stop: asyncio.Event, ready_timeout_s: float = 90.0) -> int:
    written = ensure_config(root)
    for path in written:
        show(f"created {path}")
    settings = load_settings(root)
    secure_data_dir(settings.data_dir, create=True)
    launcher = ClusterLauncher(settings)
    launcher.start()
    ready = asyncio.create_task(launcher.ready.wait())
    stopping = asyncio.create_task(stop.wait())
    done, _ = await asyncio.wait({ready, stopping}, timeout=ready_timeout_s,
                                 return_when=asyncio.FIRST_COMPLETED)
    if ready in done:
        show(launcher.summary())
    elif stopping not in done:
        missing = ", ".join(sorted(launcher.expected - launcher.seen))
        show(f"still waiting for: {missing} (see {launcher.log_dir})")
    await stop.wait()
    ready.cancel()
    show("stopping the cluster...")
    await launcher.stop()
    show("stopped")
    return 0
