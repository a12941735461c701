"""Storage layer: database engines (SQLite WAL by default, PostgreSQL in production), tables and migrations."""
