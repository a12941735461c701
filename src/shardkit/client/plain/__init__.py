"""The line-based terminal client (``shardkit play``): menus and a game prompt over plain lines."""

from shardkit.client.plain.app import run_terminal_client

__all__ = ["run_terminal_client"]
