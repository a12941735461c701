"""docs/metrics.md lists every declared series; the Grafana dashboard asks only for real ones."""

from __future__ import annotations

import json
import os
import re
from pathlib import Path

import pytest

from shardkit.characters.server import CharacterServer
from shardkit.config.settings import load_settings
from shardkit.daemon.server import WorldDaemon
from shardkit.gm.server import GMServer
from shardkit.imp.agent import WorldImp
from shardkit.master.server import MasterServer
from shardkit.runtime.metrics import ProcessMetrics
from shardkit.testing.harness import write_cluster_config
from shardkit.web.server import WebServer
from shardkit.world.server import WorldServer
from shardkit.zone.server import ZoneServer

DOCS = Path(__file__).resolve().parents[1] / "docs"
_ROW = re.compile(r"^\| `(shardkit_[a-z0-9_]+)` \| (counter|gauge|histogram) \|")
_SERIES = re.compile(r"\b((?:shardkit|process|python)_[a-z0-9_]+)")
_SUFFIXES = ("_bucket", "_count", "_sum", "_total")


def family(sample: str) -> str:
    """The metric family a sample name belongs to (``x_total`` and ``x_bucket`` are ``x``)."""
    for suffix in _SUFFIXES:
        if sample.endswith(suffix):
            return sample[: -len(suffix)]
    return sample


@pytest.fixture(scope="module")
def declared(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """Every family the processes declare (metric name without suffix -> type)."""
    root = tmp_path_factory.mktemp("metrics-doc")
    write_cluster_config(root)
    settings = load_settings(root)
    world = settings.world("Atlantis")
    registries: list[ProcessMetrics] = [
        MasterServer(settings).metrics, GMServer(settings).metrics,
        CharacterServer(settings).metrics, WorldDaemon(settings, world).metrics,
        WorldServer(settings, world, 0).metrics,
        ZoneServer(settings, world, "town", 0, 0, "127.0.0.1", os.urandom(32)).metrics,
        WorldImp(settings, "127.0.0.1", 7005, "doc").metrics, WebServer(settings).metrics,
    ]
    return {f.name: f.type for metrics in registries for f in metrics.registry.collect()}


def test_every_declared_series_is_documented_with_its_type(declared: dict[str, str]) -> None:
    documented = {}
    for line in (DOCS / "metrics.md").read_text(encoding="utf-8").splitlines():
        row = _ROW.match(line)
        if row:
            documented[family(row[1])] = row[2]
    ours = {name: kind for name, kind in declared.items() if name.startswith("shardkit_")}
    assert set(ours) - set(documented) == set(), "declared but not in docs/metrics.md"
    assert set(documented) - set(ours) == set(), "in docs/metrics.md but declared nowhere"
    assert {n: k for n, k in documented.items() if ours[n] != k} == {}, "types differ"
    assert {"process_cpu_seconds", "process_resident_memory_bytes"} <= set(declared)


def test_the_grafana_dashboard_asks_only_for_declared_series(declared: dict[str, str]) -> None:
    dashboard = json.loads((DOCS / "grafana-dashboard.json").read_text(encoding="utf-8"))
    expressions = [target["expr"] for panel in dashboard["panels"]
                   for target in panel.get("targets", [])]
    assert len(expressions) >= 20
    asked = {family(name) for expr in expressions for name in _SERIES.findall(expr)}
    assert asked - set(declared) == set()
    assert {"shardkit_master_logins", "shardkit_world_zone_tick_seconds",
            "shardkit_characters_save_batch_size"} <= asked
    ids = [panel["id"] for panel in dashboard["panels"]]
    assert len(ids) == len(set(ids))
