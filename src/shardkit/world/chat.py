"""World chat and whispers on a WorldServer: relayed from its zones to the daemon, and delivered.

Zones call ``chat_world`` and ``chat_whisper`` on the world port (the relay forwards them to
the daemon as they came); the daemon sends every WorldServer ``world_chat`` for all its
players, and asks each one to ``deliver_whisper`` to the character if it plays here. Both
reach the player on its world connection as ``chat`` on the ``world`` or ``whisper`` channel.
"""

from __future__ import annotations

from shardkit.daemon.chat_calls import ChatCalls, Delivered, WhisperDelivery, WorldChatDelivery
from shardkit.wire.peers import encode_notice
from shardkit.wire.relay import entry_relay
from shardkit.wire.rpc import RpcConnection, rpc
from shardkit.world.notifications import WHISPER, WORLD, Chat
from shardkit.world.players import Players
from shardkit.world.session import sessions

ChatRelay = entry_relay(
    ChatCalls, "ChatRelay", module=__name__,
    doc="World chat and whispers from this WorldServer's zones, relayed to the daemon.",
)


class ChatEvents:
    """What the daemon sends this WorldServer over its link: world chat and whispers."""

    def __init__(self, players: Players) -> None:
        self.players = players

    @rpc("world_chat", WorldChatDelivery, roles=("daemon",))
    def world_chat(self, conn: RpcConnection, p: WorldChatDelivery) -> None:
        """A world chat line: pass it to every player here."""
        data = encode_notice(Chat(p.speaker, p.text, WORLD))
        for player in self.players:
            player.send_encoded(data)

    @rpc("deliver_whisper", WhisperDelivery, roles=("daemon",))
    def deliver_whisper(self, conn: RpcConnection, p: WhisperDelivery) -> Delivered:
        """Give a whisper to the character if it plays on this WorldServer."""
        wanted = p.to.casefold()
        for player in self.players:
            session = sessions.get(player)
            if session is not None and session.character and \
                    session.character.casefold() == wanted:
                player.send_encoded(encode_notice(Chat(p.speaker, p.text, WHISPER)))
                return Delivered(True, session.character)
        return Delivered(False)
