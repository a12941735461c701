"""Messages of the GM server port (1998): the audit log its peers write to."""

from __future__ import annotations

import msgspec


class AuditEvent(msgspec.Struct, array_like=True):
    actor: str
    action: str
    target: str
    detail: dict[str, object] = msgspec.field(default_factory=dict)


class RecentAudit(msgspec.Struct, array_like=True):
    limit: int = 50
