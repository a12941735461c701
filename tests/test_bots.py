"""``shardkit bots`` against a real cluster: twenty bots get in, walk, and the report says so."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Iterator

import pytest
from conftest import Cluster, start_cluster

BOTS = 20


@pytest.fixture(scope="module")
def bots_cluster(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    # the bench's way: the cluster's config lets one address register this many accounts
    running = start_cluster(tmp_path_factory.mktemp("bots"),
                            master_options={"registrations_per_ip": BOTS + 10})
    yield running
    code = running.stop()
    assert code == 0, "\n".join(running.up.lines[-40:])


def run_bots(cluster: Cluster, *extra: str) -> tuple[dict[str, object], list[str]]:
    done = subprocess.run(
        [sys.executable, "-m", "shardkit", "bots", "--root", str(cluster.root),
         "--bots", str(BOTS), "--duration", "3", "--turn", "0.5-1", "--json", *extra],
        capture_output=True, text=True, timeout=100)
    lines = done.stdout.splitlines() + done.stderr.splitlines()[-30:]
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return json.loads(done.stdout.splitlines()[-1]), lines


@pytest.mark.cluster
def test_twenty_bots_walk_and_report(bots_cluster: Cluster) -> None:
    report, lines = run_bots(bots_cluster, "--chat-every", "1")
    assert report["bots"] == BOTS
    assert report["connected"] == BOTS
    assert report["errors"] == {}
    assert any("measuring: in zone 20/20" in line for line in lines)  # the live progress
    assert float(str(report["snapshots_per_client_s"])) > 5  # the test cluster ticks at 20 Hz
    assert report["tick_hz"] == 20.0
    assert 0 < float(str(report["snapshots_delivered_ratio"])) <= 1.05
    assert int(str(report["latency_samples"])) >= BOTS  # every bot turned at least once
    assert 0 < float(str(report["input_p50_ms"])) <= float(str(report["input_p99_ms"])) < 2000
    assert float(str(report["bytes_per_client_s"])) > 0
    assert float(str(report["bots_cpu_pct"])) > 0
    assert any(line.startswith("input-to-visible latency: p50") for line in lines)


@pytest.mark.cluster
def test_bots_reuse_their_accounts_over_two_processes(bots_cluster: Cluster) -> None:
    report, lines = run_bots(bots_cluster, "--procs", "2")  # the same accounts: logged in
    assert report["connected"] == BOTS, "\n".join(lines)
    assert report["errors"] == {}
    assert report["procs"] == 2
    assert int(str(report["latency_samples"])) > 0
