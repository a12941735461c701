"""`shardkit up` in an empty folder runs the whole cluster on the seed's ports; Ctrl-C stops it."""

from __future__ import annotations

import signal
import socket
import subprocess
import sys
from pathlib import Path

import pytest

from shardkit.testing.harness import RunningProcess
from shardkit.up import READY_LINE

SEED_PORTS = (2002, 8192, 1998, 7000, 7001, 7002, 7005, 2006, 6000, 29000, 29001,
              2007, 6001, 29100)  # the default world's second WorldServer (harbor)


def port_in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.settimeout(0.5)
        return probe.connect_ex(("127.0.0.1", port)) == 0


def listening_ports() -> set[int]:
    output = subprocess.run(["ss", "-ltnH"], capture_output=True, text=True, check=True).stdout
    return {int(line.split()[3].rsplit(":", 1)[1]) for line in output.splitlines() if line.strip()}


def test_up_in_an_empty_folder_uses_the_seed_ports(tmp_path: Path) -> None:
    busy = [port for port in SEED_PORTS if port_in_use(port)]
    if busy:
        pytest.skip(f"seed ports already in use here (another cluster running?): {busy}")
    process = subprocess.Popen(
        [sys.executable, "-m", "shardkit", "up"], cwd=tmp_path, text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    up = RunningProcess(process)
    up.start_reader()
    try:
        up.wait_for_line(READY_LINE, timeout=60)
        assert set(SEED_PORTS) <= listening_ports()
        secrets = tmp_path / "serverconfig" / "secrets.toml"
        assert secrets.stat().st_mode & 0o777 == 0o600
        assert (tmp_path / "serverconfig" / "worlds" / "Atlantis.toml").exists()
        process.send_signal(signal.SIGINT)  # Ctrl-C
        assert process.wait(60) == 0
        up.wait_for_line("stopped", timeout=5)
        assert not set(SEED_PORTS) & listening_ports()
    finally:
        up.stop()
