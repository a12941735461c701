"""Which keys a world's daemon takes on its ports: only those of its own world's servers."""

from __future__ import annotations

from collections.abc import Mapping

from shardkit.config.settings import Settings
from shardkit.wire.handshake import KeyOfName


def world_server_keys(settings: Settings, world: str) -> KeyOfName:
    """The key of a WorldServer named ``<world>/<cluster>`` of this world (or a tool named
    ``<world>/<anything>``, such as ``<world>/status``); None for any other name, so a
    WorldServer of another world is refused by name before any proof."""
    key = settings.secrets.world_link_key(world)

    def key_of(name: str) -> bytes | None:
        own, _, rest = name.partition("/")
        return key if own == world and rest else None

    return key_of


def imp_keys(settings: Settings, world: str) -> Mapping[str, bytes | KeyOfName]:
    """Port 7005: imps of this world prove the world's link key (an imp names its host)."""
    return {"imp": settings.secrets.world_link_key(world)}
