"""The GM tool as game masters use it: typed into at a real terminal (tmux), with history and tab
completion of commands and online characters, and run from scripts with ``--exec`` (exit
codes), including the audit log's export as CSV and JSON lines."""

from __future__ import annotations

import asyncio
import csv
import json
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import Cluster
from gm_support import PASSWORD, player_in_game, register
from terminal_support import Terminal

pytestmark = [pytest.mark.cluster, pytest.mark.timeout(120)]



def gm_tool(cluster: Cluster, user: str, password_file: Path, *lines: str) -> list[str]:
    argv = [sys.executable, "-m", "shardkit", "gmtool", "--port", str(cluster.master_port),
            "--user", user, "--password-file", str(password_file)]
    for line in lines:
        argv += ["--exec", line]
    return argv


async def run_tool(argv: list[str]) -> subprocess.CompletedProcess[str]:
    return await asyncio.to_thread(subprocess.run, argv, capture_output=True, text=True,
                                   timeout=60, check=False, stdin=subprocess.DEVNULL)


@pytest.fixture
def password_file(tmp_path: Path) -> Path:
    path = tmp_path / "password"
    path.write_text(PASSWORD + "\n")
    path.chmod(0o600)
    return path


async def test_scripts_run_commands_and_get_an_exit_code(cluster: Cluster, password_file: Path,
                                                         tmp_path: Path) -> None:
    player = await player_in_game(cluster, "Scripted", "Bob")
    await register(cluster, "Sage", "gm")
    await register(cluster, "Rootie", "admin")
    try:
        done = await run_tool(gm_tool(cluster, "Sage", password_file, "kick Bob spamming"))
        assert done.returncode == 0, done.stderr
        assert done.stdout.startswith("kicked Bob (Scripted) from Atlantis: master session closed")
        await player.wait_for(lambda s: s.kicked == "spamming")

        refused = await run_tool(gm_tool(cluster, "Sage", password_file, "who", "gm list",
                                         "bans"))
        assert refused.returncode == 1
        assert "0 online" in refused.stdout and "no bans" not in refused.stdout  # stops there
        assert refused.stderr.strip() == "gm list: refused: game_masters is for admins;" \
                                         " Sage is a gm"
        wrong = await run_tool(gm_tool(cluster, "Sage", password_file, "frobnicate"))
        assert (wrong.returncode, wrong.stderr.strip()) \
            == (2, "frobnicate: no command 'frobnicate'; type help")
        usage = await run_tool(gm_tool(cluster, "Sage", password_file, "ban Bob"))
        assert usage.returncode == 2 and "usage: ban <account|address>" in usage.stderr
        nobody = await run_tool(gm_tool(cluster, "Nobody", password_file, "who"))
        assert nobody.returncode == 3 and "cannot log in as Nobody" in nobody.stderr

        csv_path, jsonl_path = tmp_path / "audit.csv", tmp_path / "audit.jsonl"
        exported = await run_tool(gm_tool(cluster, "Rootie", password_file,
                                          f"export {csv_path} actor=gm:Sage",
                                          f"export {jsonl_path}"))
        assert exported.returncode == 0, exported.stderr
        with csv_path.open(newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == ["id", "at", "actor", "address", "action", "target", "result",
                                 "detail"]
        actions = [(r["actor"], r["address"], r["action"], r["target"], r["result"])
                   for r in rows]
        assert ("gm:Sage", "127.0.0.1", "kick", "Atlantis/Bob", "ok") in actions
        assert ("gm:Sage", "127.0.0.1", "game_masters", "", "refused") in actions
        assert {r["actor"] for r in rows} == {"gm:Sage"}
        kick = next(r for r in rows if r["action"] == "kick")
        assert json.loads(kick["detail"])["reason"] == "spamming"
        lines = [json.loads(line) for line in jsonl_path.read_text().splitlines()]
        assert len(lines) >= len(rows) and all(set(e) == set(rows[0]) for e in lines)
        refusal = next(e for e in lines if e["action"] == "game_masters")
        assert (refusal["actor"], refusal["result"], refusal["detail"]["error"]) \
            == ("gm:Sage", "refused", "forbidden")
        assert [e["id"] for e in lines] == sorted((e["id"] for e in lines), reverse=True)
    finally:
        await player.close()


async def test_a_game_master_at_the_prompt(cluster: Cluster, password_file: Path,
                                           tmp_path: Path) -> None:
    player = await player_in_game(cluster, "Zeldacc", "Zelda")
    await register(cluster, "Tess", "gm")
    history = tmp_path / "history"
    argv = [*gm_tool(cluster, "Tess", password_file), "--history", str(history)]
    term = Terminal(argv)
    try:
        term.wait_for_line("gm:Tess>", timeout=30)
        assert any("logged in as Tess (gm, every world)" in line for line in term.screen())
        term.type("wh")
        term.press("Tab")  # a command name
        term.wait_for("the command completed", lambda lines: lines[-1].endswith("> who"))
        term.press("Enter")
        lines = term.wait_for_line("online")
        table = next(i for i, line in enumerate(lines) if line.startswith("WORLD"))
        assert lines[table].split() == ["WORLD", "WS", "ACCOUNT", "CHARACTER", "ZONE", "ADDRESS"]
        assert ["Atlantis", "0", "Zeldacc", "Zelda", "town", "127.0.0.1"] \
            in [line.split() for line in lines[table + 1:]]

        term.type("inspect Zel")
        term.press("Tab")  # an online character's name, from the WorldServers
        term.wait_for("the name completed",
                      lambda lines: lines[-1].endswith("> inspect Zelda"))
        term.press("Enter")
        lines = term.wait_for_line("account Zeldacc (player)")
        assert any(line.startswith("Atlantis/Zelda (character #") for line in lines)

        term.type("grant Zelda lots gold")
        term.press("Enter")
        term.wait_for_line("'lots' is not a count")
        term.type("gm list")
        term.press("Enter")
        term.wait_for_line("refused: game_masters is for admins; Tess is a gm")

        term.press("Up", "Up", "Up")  # history: back to the inspect line
        term.wait_for("the history", lambda lines: lines[-1].endswith("> inspect Zelda"))
        term.press("C-u")
        term.type("quit")
        term.press("Enter")
        term.wait_for("the tool to say goodbye", lambda lines: lines[-1] == "bye")
        term.wait_for("the tool to end", lambda lines: term.exited())
        assert "inspect Zelda" in history.read_text()
    finally:
        term.close()
        await player.close()
