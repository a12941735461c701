"""Shared fixtures: a whole cluster started by ``shardkit up`` as real processes on free loopback ports."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shardkit.config.settings import Settings, load_settings
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config
from shardkit.up import READY_LINE


@dataclass
class Cluster:
    root: Path
    settings: Settings
    up: RunningProcess

    @property
    def master_port(self) -> int:
        return self.settings.server.master.port

    def announced_port(self, what: str) -> int:
        """The port from the latest ``<what> listening on host:port`` line (ports chosen at run time)."""
        pattern = re.compile(re.escape(what) + r" listening on [\d.]+:(\d+)")
        for line in reversed(self.up.lines):
            match = pattern.search(line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"nothing announced '{what} listening on'")


def start_cluster(root: Path, **config: object) -> Cluster:
    write_cluster_config(root, **config)  # type: ignore[arg-type]
    up = start_shardkit(root, "up")
    try:
        up.wait_for_line(READY_LINE, timeout=90)
    except AssertionError:
        up.stop()
        raise
    return Cluster(root, load_settings(root), up)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield running
    code = running.up.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])
