"""The one error taxonomy. Adapters translate transport failures into these; only the base task decides.

- TransientError: worth retrying (timeouts, 5xx, 429, a lock held, a database or broker briefly away).
- PermanentError: retrying cannot help (4xx, validation, mapping); goes to a person through the exception store.
- RecordGone: the remote record no longer exists (404); a permanent error with its own name.
- Conflict / NotCancellable: permanent refusals the flows act on by name (a changed release, a cancel after pick).
- AlreadyUpToDate: not a failure; the work was already done, so the task succeeds without doing it again.
"""
from __future__ import annotations


class SyncError(Exception):
    """Base of every error the engine raises on purpose."""


class TransientError(SyncError):
    def __init__(self, message: str, *, retry_after: float | None = None):
        super().__init__(message)
        self.retry_after = retry_after  # seconds the remote asked us to wait (Retry-After), if it said


class PermanentError(SyncError):
    pass


class RecordGone(PermanentError):
    pass


class Conflict(PermanentError):
    """The remote holds a different record under our idempotency key (e.g. WMS external_ref_conflict)."""


class NotCancellable(PermanentError):
    """The remote refuses to cancel because the work is already under way (e.g. a WMS order already picked)."""


class AlreadyUpToDate(SyncError):
    pass


def is_transient(exc: BaseException) -> bool:
    """Our TransientError, or infrastructure that is briefly away (database, Redis, broker): worth a retry."""
    if isinstance(exc, TransientError):
        return True
    # Imported here so the taxonomy itself stays free of infrastructure imports.
    from kombu.exceptions import OperationalError as BrokerError
    from redis.exceptions import ConnectionError as RedisConnectionError, TimeoutError as RedisTimeoutError
    from sqlalchemy.exc import DisconnectionError, IntegrityError, InterfaceError, OperationalError

    # IntegrityError: a concurrent writer created the same business key first; the retry finds it done.
    infrastructure = (
        OperationalError, InterfaceError, DisconnectionError, IntegrityError,
        RedisConnectionError, RedisTimeoutError, BrokerError, ConnectionError, TimeoutError,
    )
    return isinstance(exc, infrastructure)
