"""Shared fixtures: a cluster started by ``shardkit up``, real processes on free loopback ports."""

from __future__ import annotations

import asyncio
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from shardkit.config.settings import Settings, load_settings
from shardkit.store.testing import fresh_database_url
from shardkit.testing.harness import RunningProcess, start_shardkit, write_cluster_config
from shardkit.up import READY_LINE

# "sqlite" (default) or "postgresql": where cluster tests keep data
TEST_DB_ENV = "SHARDKIT_TEST_DB"


def cluster_database_urls(root: Path, kind: str) -> tuple[dict[str, str], Callable[[], None]]:
    """Database URLs for a test cluster and a cleanup; fresh PostgreSQL databases when asked for."""
    if kind == "sqlite":
        return {}, lambda: None
    if kind != "postgresql":
        raise ValueError(f"{TEST_DB_ENV} must be 'sqlite' or 'postgresql', not {kind!r}")
    urls: dict[str, str] = {}
    cleanups = []
    for schema in ("master", "characters", "gm"):
        url, cleanup = asyncio.run(fresh_database_url("postgresql", root))
        urls[schema] = url
        cleanups.append(cleanup)

    def drop_all() -> None:
        for cleanup in cleanups:
            asyncio.run(cleanup())

    return urls, drop_all


@dataclass
class Cluster:
    root: Path
    settings: Settings
    up: RunningProcess
    drop_databases: Callable[[], None] = lambda: None

    def stop(self) -> int:
        """Stop ``shardkit up`` (SIGTERM) and drop the cluster's test databases."""
        try:
            return self.up.stop()
        finally:
            self.drop_databases()

    @property
    def master_port(self) -> int:
        return self.settings.server.master.port

    def database_url(self, schema: str) -> str:
        """Where this cluster keeps a schema's data ("master", "characters" or "gm")."""
        server = self.settings.server
        configured = {"master": server.master.database_url, "gm": server.gm.database_url,
                      "characters": server.characters.database_url}[schema]
        return self.settings.database_url(configured, f"{schema}.db")

    def announced_port(self, what: str) -> int:
        """The port from the latest ``<what> listening on host:port`` line.

        Ports are chosen at run time.
        """
        pattern = re.compile(re.escape(what) + r" listening on [\d.]+:(\d+)")
        for line in reversed(self.up.lines):
            match = pattern.search(line)
            if match:
                return int(match.group(1))
        raise AssertionError(f"nothing announced '{what} listening on'")


def start_cluster(root: Path, backend: str | None = None, **config: object) -> Cluster:
    """``shardkit up`` on a fresh config under root; returns once the cluster says it is up.

    ``backend`` is "sqlite" or "postgresql"; by default the SHARDKIT_TEST_DB environment variable.
    """
    backend = backend or os.environ.get(TEST_DB_ENV, "sqlite")
    urls, drop_databases = cluster_database_urls(root, backend)
    write_cluster_config(root, database_urls=urls, **config)  # type: ignore[arg-type]
    up = start_shardkit(root, "up")
    try:
        up.wait_for_line(READY_LINE, timeout=90)
    except AssertionError:
        up.stop()
        drop_databases()
        raise
    return Cluster(root, load_settings(root), up, drop_databases)


@pytest.fixture(scope="module")
def cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    running = start_cluster(tmp_path_factory.mktemp("cluster"))
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Tests that start a cluster are marked ``cluster`` (the PostgreSQL pass re-runs them)."""
    for item in items:
        if any("cluster" in name for name in getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.cluster)
