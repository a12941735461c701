"""``shardkit play``: the line-based terminal client; it lives in :mod:`shardkit.client.plain`."""

from shardkit.client.plain import run_terminal_client

__all__ = ["run_terminal_client"]
