"""Player-side guild calls on the world connection, mixed into GameClient: the relayed table."""

from __future__ import annotations

from shardkit.characters.calls import GuildCalls as GuildTable
from shardkit.wire.peers import Peer
from shardkit.wire.rpc import RpcConnection


class GuildCalls(GuildTable):
    """Guild methods of the world port, one per table entry (``await client.guild_roster()``).

    They act as the character you entered the game with; each returns the table's result type.
    """

    def _in_world(self) -> RpcConnection:  # provided by GameClient
        raise NotImplementedError

    def relay_peer(self) -> Peer:
        """Where the table's calls go: this client's world connection."""
        return self._in_world()
