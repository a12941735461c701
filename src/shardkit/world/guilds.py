"""Guilds on the world port: as the active character; guild chat from the daemon to members."""

from __future__ import annotations

from shardkit.characters.calls import GuildCalls
from shardkit.daemon.notifications import GuildChatDelivery
from shardkit.wire.peers import encode_notice
from shardkit.wire.relay import entry_relay
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import GuildChat
from shardkit.world.players import Players
from shardkit.world.session import sessions

GuildPort = entry_relay(
    GuildCalls, "GuildPort", module=__name__,
    doc="Guild calls of the world port, as the player's active character, through the daemon.",
)


class GuildChatEvents:
    """What the daemon sends this WorldServer over its link: guild chat to deliver."""

    def __init__(self, players: Players) -> None:
        self.players = players

    @rpc("guild_chat", GuildChatDelivery, roles=("daemon",))
    def guild_chat(self, conn: RpcConnection, p: GuildChatDelivery) -> None:
        """A guild message: pass it to the players here whose active character is a member."""
        members = set(p.member_ids)
        data = encode_notice(GuildChat(p.guild, p.speaker, p.text))
        for player in self.players:
            session = sessions.get(player)
            if session is not None and session.character_id in members:
                player.send_encoded(data)
