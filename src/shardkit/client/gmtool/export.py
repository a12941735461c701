"""Exporting the audit log: page through ``audit_query`` and write CSV or JSON lines.

Both files hold the same fields per entry: ``id``, ``at`` (RFC 3339), ``actor``, ``address``,
``action``, ``target``, ``result`` and ``detail`` (a JSON object; in CSV, its JSON text).
Entries come newest first, as the GM port pages them.
"""

from __future__ import annotations

import asyncio
import csv
import io
from pathlib import Path
from typing import IO

import msgspec

from shardkit.gm.api import GMApi
from shardkit.gm.schemas import AuditQuery, AuditRow

FIELDS = ("id", "at", "actor", "address", "action", "target", "result", "detail")


def csv_header() -> str:
    out = io.StringIO()
    csv.writer(out).writerow(FIELDS)
    return out.getvalue()


def csv_rows(rows: list[AuditRow]) -> str:
    out = io.StringIO()
    writer = csv.writer(out)
    for row in rows:
        writer.writerow([row.id, row.at, row.actor, row.address or "", row.action,
                         row.target or "", row.result, msgspec.json.encode(row.detail).decode()])
    return out.getvalue()


def json_lines(rows: list[AuditRow]) -> str:
    return "".join(msgspec.json.encode(row).decode() + "\n" for row in rows)


async def export_audit(api: GMApi, query: AuditQuery, path: str, kind: str, *,
                       max_rows: int) -> int:
    """Write the entries matching ``query`` (at most ``max_rows``) to ``path``; how many."""
    written = 0
    out: IO[str] = await asyncio.to_thread(Path(path).open, "w", encoding="utf-8", newline="")
    try:
        if kind == "csv":
            await asyncio.to_thread(out.write, csv_header())
        while written < max_rows:
            query.limit = min(query.limit, max_rows - written)
            page = await api.audit_query(query)
            text = csv_rows(page.entries) if kind == "csv" else json_lines(page.entries)
            await asyncio.to_thread(out.write, text)
            written += len(page.entries)
            if not page.next_before:
                break
            query.before_id = page.next_before
    finally:
        await asyncio.to_thread(out.close)
    return written
