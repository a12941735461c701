"""A WorldServer whose content differs from the character server's is refused, clearly said why."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from shardkit.content import DEFAULT_CONTENT, content_version, load_content
from shardkit.testing.harness import start_shardkit

EXTRA = """
[[clusters]]
number = 1
zones = ["harbor"]
runs_on = "imp:nobody"
"""


def test_version_changes_with_any_content_byte(tmp_path: Path) -> None:
    copy = tmp_path / "content"
    shutil.copytree(DEFAULT_CONTENT, copy)
    assert content_version(copy) == content_version(DEFAULT_CONTENT)
    (copy / "zones.toml").write_text((copy / "zones.toml").read_text().replace("800.0", "801.0"))
    assert content_version(copy) != content_version(DEFAULT_CONTENT)
    assert load_content(copy).zone("harbor").width == 801.0


@pytest.fixture(scope="module")
def two_cluster_world(tmp_path_factory: pytest.TempPathFactory):
    from conftest import start_cluster

    running = start_cluster(tmp_path_factory.mktemp("content"), extra_clusters=EXTRA)
    yield running
    assert running.stop() == 0


def test_world_server_with_other_content_is_refused(two_cluster_world, tmp_path: Path) -> None:
    root = two_cluster_world.root
    # a second machine's copy of the config whose content was edited
    other = tmp_path / "machine2"
    shutil.copytree(root / "serverconfig", other / "serverconfig")
    shutil.copytree(DEFAULT_CONTENT, other / "content")
    (other / "content" / "zones.toml").write_text(
        (other / "content" / "zones.toml").read_text() + "\n[zones.secret_level]\n"
    )
    server = other / "serverconfig" / "server.toml"
    server.write_text(
        server.read_text().replace("[cluster]", '[cluster]\ncontent_dir = "content"', 1)
    )
    refused = start_shardkit(other, "world", "--world", "Atlantis", "--cluster", "1")
    try:
        line = refused.lines[refused.wait_for_line("content_mismatch", timeout=30)]
        assert "deploy the same content" in line
    finally:
        refused.stop()

    # the same WorldServer with the shared content is admitted
    admitted = start_shardkit(root, "world", "--world", "Atlantis", "--cluster", "1")
    try:
        admitted.wait_for_line("world Atlantis/1 ready", timeout=30)
        admitted.wait_for_line("linked to daemon", timeout=30)
        assert not any("content_mismatch" in line for line in admitted.lines)
    finally:
        admitted.stop()
