"""The character server's hop of the GM server's relayed calls (gm/calls.py).

The GM server links to nobody: its calls about accounts go on to the master, and its calls
about players in play to the daemon of the world they name, over the links the character
server keeps anyway. This hop adds nothing and checks nothing (the GM server did).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from shardkit.gm.calls import GMMasterCalls, GMWorldCalls
from shardkit.wire.peers import Peer
from shardkit.wire.relay import Route, middle_relay
from shardkit.wire.rpc import RpcError

GM = ("gm",)

GMMasterForwarding = middle_relay(
    GMMasterCalls, "GMMasterForwarding", module=__name__, roles=GM,
    doc="The GM server's account calls, from its link (1998): forwarded to the master.",
)

GMWorldRelay = middle_relay(
    GMWorldCalls, "GMWorldRelay", module=__name__, roles=GM,
    doc="The GM server's calls about players, from its link (1998): to the daemon of the"
        " call's world.",
)


def world_route(daemons: Mapping[str, Peer]) -> Route:
    """The next hop of a GM world call: the link to the daemon of its ``world``."""

    def route(params: Any) -> Peer:
        daemon = daemons.get(params.world)
        if daemon is None:
            raise RpcError("no_such_world", f"no world '{str(params.world)[:64]}' is linked")
        return daemon

    return route
