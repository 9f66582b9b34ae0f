"""The beat schedule, by task NAME so config never imports tasks. Each entry expires within its interval, so
a backlog of sweeps never piles up behind a stopped worker."""
from __future__ import annotations

from config.settings import Settings
from retail_sync import task_names


def schedule(settings: Settings) -> dict:
    interval = settings.inbox_sweep_interval_s
    return {
        "sweep-inbox": {
            "task": task_names.SWEEP_INBOX,
            "schedule": interval,
            "options": {"expires": interval},
        },
    }
