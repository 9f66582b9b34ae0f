"""SyncTask: the one place that turns our error taxonomy into retry, success or a dead letter.

- TransientError (and a database, Redis or broker briefly away): retry with exponential backoff and full
  jitter, never sooner than a Retry-After the adapter reported, never later than half the visibility timeout
  (a longer countdown would make Redis deliver the message twice).
- PermanentError, or an error we cannot classify: no blind retries; a row in the exception store for a person.
- Retries used up: the same row, with the attempts.
- AlreadyUpToDate: success.
- A message that comes back after its worker died (acks_late + reject_on_worker_lost) is counted in SQL; past
  TASK_MAX_REDELIVERIES it is dead-lettered instead of run, so a message that kills its worker cannot loop.
"""
from __future__ import annotations

import logging
import random
import traceback

from celery import Task
from celery.exceptions import Retry
from celery.utils.time import get_exponential_backoff_interval

from retail_sync.bootstrap import process_services
from retail_sync.errors import AlreadyUpToDate, is_transient
from retail_sync.persistence.exception_store import DeadLetter, open_exception
from retail_sync.persistence.redeliveries import count_redelivery

logger = logging.getLogger(__name__)

BACKOFF_FACTOR_S = 2


class SyncTask(Task):
    abstract = True

    def __call__(self, *args, **kwargs):
        if self._is_redelivery() and self._redeliveries_exhausted():
            return {"outcome": "dead_lettered", "reason": "redelivered too often"}
        try:
            return super().__call__(*args, **kwargs)
        except Retry:
            raise
        except AlreadyUpToDate:
            return {"outcome": "already_up_to_date"}
        except Exception as exc:
            if is_transient(exc) and self.request.retries < self.max_retries:
                raise self.retry(exc=exc, countdown=self.retry_countdown(exc))
            self.dead_letter(exc, kind="task.failed")
            return {"outcome": "dead_lettered", "error": type(exc).__name__}

    @property
    def max_countdown(self) -> float:
        return process_services().settings.visibility_timeout_s / 2

    def retry_countdown(self, exc: BaseException) -> float:
        backoff = get_exponential_backoff_interval(
            factor=BACKOFF_FACTOR_S, retries=self.request.retries, maximum=int(self.max_countdown), full_jitter=True
        )
        retry_after = getattr(exc, "retry_after", None) or 0
        if retry_after:
            backoff = retry_after + random.uniform(0, min(retry_after, 5))
        return max(0.5, min(backoff, self.max_countdown))

    def dead_letter(self, exc: BaseException, *, kind: str) -> None:
        services = process_services()
        letter = DeadLetter(
            kind=kind,
            error_type=type(exc).__name__,
            error_message=str(exc) or type(exc).__name__,
            task_name=self.name,
            task_args=list(self.request.args or []),
            queue=(self.request.delivery_info or {}).get("routing_key"),
            traceback="".join(traceback.format_exception(exc)),
            attempts=self.request.retries + 1,
        )
        try:
            with services.uow() as uow:
                open_exception(uow.conn, letter, services.clock())
                uow.commit()
        except Exception as store_error:
            # Nowhere to put it: keep the message alive rather than lose the work.
            logger.error("exception store unavailable; retrying instead of dead-lettering", exc_info=True)
            raise self.retry(exc=store_error, countdown=self.max_countdown / 4, max_retries=None)
        logger.error("task dead-lettered", extra={"task": self.name, "task_id": self.request.id, "kind": kind})

    def _is_redelivery(self) -> bool:
        return bool((self.request.delivery_info or {}).get("redelivered"))

    def _redeliveries_exhausted(self) -> bool:
        services = process_services()
        with services.uow() as uow:
            count = count_redelivery(uow.conn, self.request.id, self.name, services.clock())
            uow.commit()
        if count <= services.settings.task_max_redeliveries:
            return False
        self.dead_letter(RuntimeError(f"message redelivered {count} times (its worker keeps dying)"), kind="task.poison")
        return True
