"""A beat scheduler that only sends while it holds a lease in SQL, so a second beat process is harmless.

Why not celery-redbeat: its lock and schedule live in Redis, and our Redis may lose everything at any moment;
the lease here lives in the state store. The schedule itself is static (config/beat.py) and every beat job
computes its window from SQL, so nothing is lost by keeping last-run times in memory.
"""
from __future__ import annotations

import logging
import os
import socket
from datetime import timedelta

from celery.beat import Scheduler

from retail_sync.bootstrap import process_services
from retail_sync.persistence.leases import acquire_or_renew, release

logger = logging.getLogger(__name__)

LEASE_NAME = "celery-beat"
LEASE_TTL = timedelta(seconds=30)
STANDBY_POLL_S = 5.0


class LeasedScheduler(Scheduler):
    def __init__(self, *args, **kwargs):
        self.holder = f"{socket.gethostname()}:{os.getpid()}"
        self._holding = False
        super().__init__(*args, **kwargs)

    def tick(self, *args, **kwargs):
        if not self._hold_lease():
            return STANDBY_POLL_S
        return min(super().tick(*args, **kwargs), STANDBY_POLL_S)

    def _hold_lease(self) -> bool:
        services = process_services()
        try:
            with services.uow() as uow:
                holding = acquire_or_renew(uow.conn, LEASE_NAME, self.holder, services.clock(), LEASE_TTL)
                uow.commit()
        except Exception:
            logger.warning("beat lease check failed; not sending this tick", exc_info=True)
            holding = False
        if holding != self._holding:
            logger.info("beat lease %s by %s", "taken" if holding else "lost", self.holder)
            self._holding = holding
        return holding

    def close(self):
        if self._holding:
            services = process_services()
            try:
                with services.uow() as uow:
                    release(uow.conn, LEASE_NAME, self.holder, services.clock())
                    uow.commit()
            except Exception:
                logger.warning("could not release the beat lease; it lapses by itself", exc_info=True)
        super().close()
