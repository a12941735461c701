"""Messages of the GM server port (1998): the audit log its peers write to, and game masters' commands."""

from __future__ import annotations

import msgspec

GM_TICKET_KIND = "gm"
GM_TICKET_DESTINATION = "gm"
GM_TICKET_LABEL = "gm-ticket"  # GM tickets are keyed with derive_key(characters_link, this)


class AuditEvent(msgspec.Struct, array_like=True):
    actor: str
    action: str
    target: str
    detail: dict[str, object] = msgspec.field(default_factory=dict)


class RecentAudit(msgspec.Struct, array_like=True):
    limit: int = 50


class GMLogin(msgspec.Struct, array_like=True):
    ticket: bytes


class GMEntry(msgspec.Struct):
    """Where the GM port is and a single-use ticket for it (from the master's ``gm_ticket``)."""

    host: str
    port: int
    ticket: bytes


class GMWelcome(msgspec.Struct):
    account_id: int
    account_name: str
