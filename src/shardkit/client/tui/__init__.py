"""The full-screen terminal client (``shardkit play``), built on Textual."""

from __future__ import annotations

from shardkit.client.tui.app import ShardkitApp

__all__ = ["ShardkitApp", "run_tui"]


def run_tui(host: str, port: int) -> int:
    """Run the full-screen client until the player quits; returns the exit status."""
    return ShardkitApp(host, port).run() or 0
