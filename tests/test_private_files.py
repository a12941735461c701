"""Private data stays private: a master makes its data folder and database (with -wal/-shm)
owner-only under any umask, and tightens what an older installation left readable by others."""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest
from master_support import launch_master

from shardkit.config.settings import load_settings
from shardkit.testing.harness import write_cluster_config

pytestmark = pytest.mark.timeout(60)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@contextmanager
def umask(value: int) -> Iterator[None]:
    """The umask child processes start with (an operator's shell usually has 022)."""
    previous = os.umask(value)
    try:
        yield
    finally:
        os.umask(previous)


def loose_files(folder: Path) -> list[str]:
    """Everything under ``folder`` that its group or others may read, with its mode."""
    found = []
    for path in [folder, *folder.rglob("*")]:
        if mode(path) & 0o077:
            found.append(f"{path.relative_to(folder.parent)} {mode(path):03o}")
    return found


def test_master_keeps_its_data_private_and_tightens_a_loose_installation(tmp_path: Path) -> None:
    write_cluster_config(tmp_path)
    data = load_settings(tmp_path).data_dir
    database = data / "master.db"

    with umask(0o022):
        master = launch_master(tmp_path)
    try:
        assert mode(data) == 0o700
        assert mode(database) == 0o600
        assert database.with_name("master.db-wal").exists()  # WAL: recent commits live there
        assert loose_files(data) == []
    finally:
        assert master.stop() == 0, "\n".join(master.process.lines[-30:])

    # an installation made before: everything world-readable, a log and a backup among it
    for folder in (data / "logs", data / "backups"):
        folder.mkdir(mode=0o755, exist_ok=True)
    (data / "logs" / "master.log").write_text("2025-01-01 old log line\n")
    (data / "backups" / "master-20250101T000000Z.db").write_bytes(database.read_bytes())
    (data / "ssh_host_key").write_text("not really a key\n")
    for path in [data, *data.rglob("*")]:
        path.chmod(0o755 if path.is_dir() else 0o644)

    with umask(0o022):
        master = launch_master(tmp_path)
    try:
        assert loose_files(data) == []
        told = [line for line in master.process.lines if "tightened" in line]
        assert any("data folder" in line and "755 to 700" in line for line in told), told
        assert any("master.db from mode 644 to 600" in line for line in told), told
        assert any("master.log" in line for line in told), told
    finally:
        assert master.stop() == 0, "\n".join(master.process.lines[-30:])


def test_secure_data_dir_leaves_links_and_shared_folders_alone(tmp_path: Path) -> None:
    from shardkit.runtime.private_files import secure_data_dir

    data = tmp_path / "data"
    data.mkdir(mode=0o700)
    outside = tmp_path / "outside.txt"
    outside.write_text("not ours to change")
    outside.chmod(0o644)
    (data / "link").symlink_to(outside)
    shared = data / "shared"
    shared.mkdir()
    shared.chmod(0o1777)  # sticky, like /tmp
    secure_data_dir(data, create=False)
    assert mode(outside) == 0o644
    assert mode(shared) == 0o1777
