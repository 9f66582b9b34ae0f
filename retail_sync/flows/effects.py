"""Effects on other systems, claimed in SQL before the call: one attempt at a time (a lease), and an attempt that
fails frees the way for the next one at once."""
from __future__ import annotations

import logging
from contextlib import contextmanager
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Iterator

from retail_sync.persistence import orders

if TYPE_CHECKING:
    from retail_sync.bootstrap import Services

logger = logging.getLogger(__name__)


def lease_until(services: "Services", now: datetime) -> datetime:
    """How long one attempt may hold an effect: a saga step's deadline (past it, the attempt is presumed dead)."""
    return now + timedelta(seconds=services.settings.saga_step_timeout_s)


def release_lease(services: "Services", key: str) -> None:
    """The attempt ended without the effect being confirmed: the next one may start at once."""
    try:
        with services.uow() as uow:
            orders.release_effect(uow.conn, key)
            uow.commit()
    except Exception:  # the lease runs out by itself; the original failure is what the task must see
        logger.warning("could not release the lease of %s", key, exc_info=True)


@contextmanager
def exclusive_effect(services: "Services", key: str) -> Iterator[orders.EffectRow]:
    """Claim an effect for this attempt alone (a concurrent attempt gets a TransientError and retries once the
    lease ended) and release it if the attempt fails. A done effect comes back as it is."""
    now = services.clock()
    with services.uow() as uow:
        claimed = orders.claim_effect(uow.conn, key, now, lease_until=lease_until(services, now))
        uow.commit()
    try:
        yield claimed
    except BaseException:
        release_lease(services, key)
        raise
