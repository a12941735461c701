"""Reads that cost SQLite one trip to its driver thread, for hot paths such as the login.

Through SQLAlchemy's aiosqlite adapter, one SELECT is eight trips between the event loop and
the connection's thread (BEGIN, cursor, execute, fetch, close, the rollback on checkin); each
waits for the loop's next turn, the GIL and a CPU for both threads. Under the fuzz benchmark
on a loaded machine a one-row lookup took up to 300-450 ms that way. :func:`fetch_all` runs
the compiled statement and fetches its rows in one trip (plus the checkin's rollback);
other backends take the ordinary path.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy import Select
from sqlalchemy.ext.asyncio import AsyncConnection

__all__ = ["fetch_all"]


async def fetch_all(conn: AsyncConnection, stmt: Select[Any]) -> list[dict[str, Any]]:
    """The rows of ``stmt`` as dicts (column name -> value converted by the column's type)."""
    dialect = conn.dialect
    if dialect.name != "sqlite":
        return [dict(row._mapping) for row in await conn.execute(stmt)]
    compiled = stmt.compile(dialect=dialect, compile_kwargs={"render_postcompile": True})
    params = [compiled.params[name] for name in compiled.positiontup or ()]
    raw = await conn.get_raw_connection()
    driver: Any = raw.driver_connection  # aiosqlite.Connection
    rows = await driver.execute_fetchall(compiled.string, params)
    columns = list(stmt.selected_columns)
    converters: list[Callable[[Any], Any] | None] = [
        column.type.dialect_impl(dialect).result_processor(dialect, None) for column in columns
    ]
    names = [str(column.key) for column in columns]
    return [
        {name: (value if convert is None else convert(value))
         for name, convert, value in zip(names, converters, row, strict=True)}
        for row in rows
    ]
