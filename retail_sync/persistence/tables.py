"""The state store's tables (SQLAlchemy Core). Alembic migrations in `migrations/` create them; later areas add theirs.

Times are stored as UTC and always come back timezone-aware, on SQLite as on PostgreSQL.
"""
from __future__ import annotations

from datetime import datetime, timezone

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
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
    Column("resource_id", String(200)),
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


# --- the order saga (issue 4) -------------------------------------------------------------------------------

orders = Table(
    "orders",
    metadata,
    Column("ref", String(64), primary_key=True),  # business key: WC-1042, POS-9001
    Column("channel", String(16), nullable=False),
    Column("number", String(64), nullable=False),
    Column("store_id", String(32)),  # WooCommerce order id; null for other channels
    # received | waiting | validated | on_hold | released | partially_shipped | shipped | completed
    # | cancelling | cancelled
    Column("status", String(24), nullable=False),
    Column("source_status", String(32)),  # the channel's own status, as last captured
    Column("source_version", String(40)),  # the channel's date_modified_gmt of the captured version
    Column("store_written_version", String(40)),  # date_modified_gmt our own last store write produced (echo)
    Column("body", Text, nullable=False),  # the canonical order (Order.to_json())
    Column("body_hash", String(64), nullable=False),  # sha256 of the accepted request (API idempotency)
    Column("hold_reason", Text),
    Column("erp_state", String(16), nullable=False, server_default="none"),  # none | posted | failed | cancelled
    Column("erp_order_id", String(32)),
    Column("erp_order_name", String(64)),
    Column("reservation_state", String(16), nullable=False, server_default="none"),  # none | reserved | failed | released | consumed
    Column("release_state", String(16), nullable=False, server_default="none"),  # none | releasable | released
    Column("invoice_state", String(16), nullable=False, server_default="none"),  # none | posted
    Column("saga_deadline", UtcDateTime),  # past it with nothing moved, the sweeper resumes the saga
    Column("received_at", UtcDateTime, nullable=False),
    Column("validated_at", UtcDateTime),
    Column("posted_at", UtcDateTime),
    Column("reserved_at", UtcDateTime),
    Column("released_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("shipped_at", UtcDateTime),
    Column("completed_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("channel", "number"),
    Index(None, "status", "saga_deadline"),
    Index(None, "store_id"),
)

# A webhook is a nudge, not the record: each one leaves (or refreshes) a row here in the inbox transaction, and
# capture re-reads the order from the store. Many deliveries for one order collapse into one capture.
store_order_nudges = Table(
    "store_order_nudges",
    metadata,
    Column("store_id", String(32), primary_key=True),
    Column("version", String(40)),  # the newest date_modified_gmt a delivery announced
    Column("requested_at", UtcDateTime, nullable=False),
    Column("redrive_after", UtcDateTime, nullable=False),  # the saga sweeper re-drives a nudge left past this
)

order_allocations = Table(
    "order_allocations",
    metadata,
    Column("id", Id, primary_key=True, autoincrement=True),
    Column("order_ref", String(64), nullable=False),
    Column("site", String(32), nullable=False),
    Column("sku", String(100), nullable=False),
    Column("quantity", Integer, nullable=False),
    Column("shipped_quantity", Integer, nullable=False, server_default="0"),
    Column("status", String(16), nullable=False),  # held | released | consumed
    Column("created_at", UtcDateTime, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
    UniqueConstraint("order_ref", "site", "sku"),
    Index(None, "sku", "site", "status"),
)

stock_levels = Table(
    "stock_levels",
    metadata,
    Column("sku", String(100), primary_key=True),
    Column("site", String(32), primary_key=True),
    Column("on_hand", Integer, nullable=False, server_default="0"),  # physical, from the WMS
    Column("reserved", Integer, nullable=False, server_default="0"),  # held by open orders (order_allocations)
    Column("safety_stock", Integer),  # null: SAFETY_STOCK_DEFAULT
    Column("on_hand_at", UtcDateTime),  # time of the WMS fact behind on_hand: an older one never overwrites it
    Column("updated_at", UtcDateTime, nullable=False),
)

fulfilments = Table(
    "fulfilments",
    metadata,
    Column("external_ref", String(120), primary_key=True),  # WC-1042 or WC-1042/WH-EAST
    Column("order_ref", String(64), nullable=False),
    Column("site", String(32), nullable=False),
    Column("wms_id", String(40)),
    # pending | released | acknowledged | picked | partially_shipped | shipped | cancelled
    Column("status", String(24), nullable=False),
    Column("lines", JSON, nullable=False),  # [{"sku", "quantity"}]
    Column("created_at", UtcDateTime, nullable=False),
    Column("released_at", UtcDateTime),
    Column("acknowledged_at", UtcDateTime),
    Column("picked_at", UtcDateTime),
    Column("shipped_at", UtcDateTime),
    Column("cancelled_at", UtcDateTime),
    Column("updated_at", UtcDateTime, nullable=False),
    Index(None, "order_ref"),
)

shipments = Table(
    "shipments",
    metadata,
    Column("shipment_id", String(40), primary_key=True),  # the WMS shipment id
    Column("order_ref", String(64), nullable=False),
    Column("external_ref", String(120), nullable=False),
    Column("carrier", String(64)),
    Column("tracking_number", String(100)),
    Column("lines", JSON, nullable=False),  # [{"sku", "quantity"}] in this shipment
    Column("shipped_at", UtcDateTime, nullable=False),
    Column("recorded_at", UtcDateTime, nullable=False),
    Column("store_noted_at", UtcDateTime),  # the tracking note reached the store
    Index(None, "order_ref"),
)

effects = Table(
    "effects",
    metadata,
    # "<system>.<effect>:<business key>", e.g. "erp.sale_order:WC-1042", "erp.invoice:WC-1042"
    Column("key", String(200), primary_key=True),
    Column("state", String(16), nullable=False),  # claimed | done
    Column("result", String(200)),  # the remote id once done
    Column("attempts", Integer, nullable=False, server_default="0"),
    Column("claimed_at", UtcDateTime, nullable=False),
    # While an attempt may be talking to the remote, no other copy may start one (it could create a duplicate).
    Column("lease_until", UtcDateTime),
    Column("done_at", UtcDateTime),
)

product_bindings = Table(
    "product_bindings",
    metadata,
    Column("sku", String(100), primary_key=True),  # normalised once (strip, NFC, case kept)
    Column("name", String(200)),
    Column("erp_product_id", String(32)),
    Column("erp_sellable", Boolean),
    Column("store_product_id", String(32)),
    Column("store_variation_id", String(32)),
    Column("synced_at", UtcDateTime, nullable=False),
    Index(None, "store_product_id", "store_variation_id"),
)
