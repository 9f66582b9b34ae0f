"""The state store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them; later areas add theirs.

Times are stored as UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Column,
    DateTime,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(table_name)s_%(column_0_N_name)s",
        "uq": "uq_%(table_name)s_%(column_0_N_name)s",
        "ck": "ck_%(table_name)s_%(constraint_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)

# BIGINT ids on PostgreSQL; SQLite only auto-increments an INTEGER PRIMARY KEY.
Id = BigInteger().with_variant(Integer(), "sqlite")


class UtcDateTime(TypeDecorator):
    """A timestamp that is written as UTC and read back timezone-aware, whatever the dialect keeps."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect):
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the state store; use timezone-aware UTC")
        return value.astimezone(timezone.utc)

    def process_result_value(self, value: datetime | None, dialect):
        if value is None:
            return None
        return value.replace(tzinfo=timezone.utc) if value.tzinfo is None else value.astimezone(timezone.utc)


webhook_inbox = Table(
    "webhook_inbox",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("source", String(32), nullable=False),
    Column("topic", String(100), nullable=False),
    Column("resource", String(50), nullable=False),
    Column("resource_id", String(64)),
    Column("version", String(40)),  # the resource's date_modified_gmt when it has one
    Column("dedupe_key", String(200), nullable=False),
    Column("body", Text, nullable=False),
    Column("received_at", UtcDateTime, nullable=False),
    Column("status", String(16), nullable=False, server_default="pending"),  # pending | done | failed
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("redrive_after", UtcDateTime, nullable=False),
    Column("processed_at", UtcDateTime),
    Column("outcome", String(32)),
    Column("last_error", Text),
    UniqueConstraint("source", "dedupe_key"),
    Index(None, "status", "redrive_after"),
)

exceptions = Table(
    "exceptions",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("kind", String(64), nullable=False),
    Column("status", String(16), nullable=False, server_default="open"),  # open | retried | resolved
    Column("fingerprint", String(64), nullable=False),
    Column("subject", String(200)),  # business key (correlation id)
    Column("task_name", String(200)),
    Column("task_args", JSON),
    Column("queue", String(32)),
    Column("payload_ref", String(200)),
    Column("error_type", String(200), nullable=False),
    Column("error_message", Text, nullable=False),
    Column("traceback", Text),
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("occurrences", Integer, nullable=False, server_default="1"),
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    Column("resolved_at", UtcDateTime),
    Column("resolved_by", String(100)),
    Index(None, "status", "kind"),
    # At most one open exception per fingerprint: a failure that repeats bumps `occurrences`.
    Index(
        "uq_exceptions_open_fingerprint",
        "fingerprint",
        unique=True,
        sqlite_where=text("status = 'open'"),
        postgresql_where=text("status = 'open'"),
    ),
)

bindings = Table(
    "bindings",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("system", String(16), nullable=False),  # woocommerce | erp | wms
    Column("kind", String(32), nullable=False),  # order, product, customer, fulfillment_order, ...
    Column("external_id", String(128), nullable=False),
    Column("internal_key", String(128), nullable=False),
    Column("synced_at", UtcDateTime, nullable=False),
    Column("last_written_hash", String(64)),  # what we last wrote there, to skip our own echoes
    UniqueConstraint("system", "kind", "external_id"),
    Index(None, "system", "kind", "internal_key"),
)

sync_cursors = Table(
    "sync_cursors",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("value", String(200), nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

timeline = Table(
    "timeline",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("subject", String(200), nullable=False),  # business key, e.g. "order:woocommerce:1234"
    Column("event_type", String(100), nullable=False),
    Column("occurred_at", UtcDateTime, nullable=False),
    Column("source", String(32), nullable=False),
    Column("detail", JSON),
    Column("dedupe_key", String(200)),  # makes an at-least-once writer record a fact once
    UniqueConstraint("dedupe_key"),
    Index(None, "subject", "id"),
)

task_redeliveries = Table(
    "task_redeliveries",
    metadata,
    Column("task_id", String(64), primary_key=True),
    Column("task_name", String(200), nullable=False),
    Column("count", Integer, nullable=False),
    Column("last_seen_at", UtcDateTime, nullable=False),
)

leases = Table(
    "leases",
    metadata,
    Column("name", String(100), primary_key=True),
    Column("holder", String(200), nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
)
