"""Storage layer: database engines (SQLite WAL, or PostgreSQL), tables, stores and migrations."""
