"""The beat schedule, by task NAME so config never imports tasks. Each entry expires within its interval, so
a backlog of sweeps never piles up behind a stopped worker."""
from __future__ import annotations

from config.settings import Settings
from retail_sync import task_names


def schedule(settings: Settings) -> dict:
    entries = {
        "sweep-inbox": (task_names.SWEEP_INBOX, settings.inbox_sweep_interval_s),
        "sweep-sagas": (task_names.SWEEP_SAGAS, settings.saga_sweep_interval_s),
        "backfill-orders": (task_names.BACKFILL_ORDERS, settings.order_backfill_interval_s),
        "sync-catalog": (task_names.SYNC_CATALOG, settings.catalog_sync_interval_s),
    }
    return {
        name: {"task": task, "schedule": interval, "options": {"expires": interval}}
        for name, (task, interval) in entries.items()
    }
