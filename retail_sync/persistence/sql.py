"""Small helpers over SQLAlchemy that differ by dialect."""
from __future__ import annotations

from sqlalchemy import Connection, Table
from sqlalchemy.dialects import postgresql, sqlite


def insert(conn: Connection, table: Table):
    """An INSERT that knows ON CONFLICT, for the dialect of `conn` (PostgreSQL and SQLite spell it alike)."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    return dialect.insert(table)
