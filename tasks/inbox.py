from __future__ import annotations

from config.celery_app import app
from retail_sync import task_names
from retail_sync.bootstrap import process_services
from retail_sync.flows import inbox
from tasks.base import SyncTask


@app.task(base=SyncTask, name=task_names.PROCESS_INBOX)
def process_deliveries_task(inbox_ids: list[int]) -> dict:
    return inbox.process_deliveries(process_services(), [int(i) for i in inbox_ids])


@app.task(base=SyncTask, name=task_names.SWEEP_INBOX)
def sweep_inbox_task() -> dict:
    return inbox.sweep_inbox(process_services())
