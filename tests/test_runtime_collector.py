"""A component run by the runtime leaves what it built at startup out of garbage collections."""

from __future__ import annotations

import gc
import json
import subprocess
import sys

CHILD = """
import gc, json, sys
import shardkit.cli  # every component's modules, as a real process has them
from shardkit.runtime.main import announce, run_until_signalled

async def main(stop):
    state = [{"k": [i]} for i in range(50_000)]  # what a component builds as it starts
    before = len(gc.get_objects(generation=2))
    announce("test component ready")
    after = len(gc.get_objects(generation=2))
    print(json.dumps({"before": before, "after": after, "frozen": gc.get_freeze_count(),
                      "state": len(state)}), flush=True)
    return 0

sys.exit(run_until_signalled(main))
"""


def test_startup_objects_are_frozen_so_a_full_collection_scans_few() -> None:
    run = subprocess.run([sys.executable, "-c", CHILD], capture_output=True, text=True,
                         timeout=60)
    assert run.returncode == 0, run.stderr[-2000:]
    figures = json.loads(run.stdout.strip().splitlines()[-1])
    assert figures["frozen"] > 100_000, figures  # the modules and the startup state
    assert figures["after"] < 1000, figures  # what a full collection still scans


def test_a_process_not_run_by_the_runtime_keeps_its_collections() -> None:
    from shardkit.runtime.collector import freeze_when_ready

    frozen = gc.get_freeze_count()
    freeze_when_ready()  # e.g. a component's code under test announcing it is ready
    assert gc.get_freeze_count() == frozen
