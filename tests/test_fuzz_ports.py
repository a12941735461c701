"""The fuzz benchmark's short run: 10^3 hostile messages per RPC port while a player plays.

Nothing may die, hang, fail or log a traceback.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

BENCH = Path(__file__).resolve().parents[1] / "bench" / "fuzz_ports.py"


@pytest.mark.timeout(300)
def test_short_fuzz_run_leaves_every_process_up_answering_and_the_player_playing() -> None:
    run = subprocess.run(
        [sys.executable, str(BENCH), "--per-port", "1000", "--seed", "7"],
        capture_output=True, text=True, timeout=280,
    )
    lines = run.stdout.strip().splitlines()
    context = "\n".join(lines[-25:]) + "\n" + run.stderr[-3000:]
    assert run.returncode == 0 and lines, context
    figures = json.loads(lines[-1])
    assert figures["messages"] >= 8 * 1000, context
    assert figures["ports_given_up"] == [], context
    assert figures["crashed_processes"] == 0, context
    assert figures["hung_processes"] == 0, context
    # no hostile message makes a handler fail: no `internal` answer, no traceback in any log
    assert set(figures["internal_errors"].values()) == {0}, context
    assert set(figures["log_tracebacks"].values()) == {0}, figures["log_exception_examples"]
    # correctness, not timing (the benchmark's targets are for a quiet machine): the player
    # kept getting snapshots, and every one of its logins during the fuzz succeeded
    assert figures["legit_snapshots_ratio"] >= 0.8, context
    assert figures["legit_interruptions"] == 0, context
    assert figures["legit_logins"] >= 3 and figures["legit_login_errors"] == 0, context
