"""Catalog bindings: the periodic bulk sync, and the on-demand lookup of an order's unknown SKUs."""
from __future__ import annotations

from config.celery_app import app
from retail_sync import task_names
from retail_sync.bootstrap import process_services
from retail_sync.flows import catalog
from tasks.base import SyncTask


@app.task(base=SyncTask, name=task_names.SYNC_CATALOG)
def sync_catalog_task() -> dict:
    return catalog.sync_catalog(process_services())


@app.task(base=SyncTask, name=task_names.LOOKUP_SKUS)
def lookup_skus_task(ref: str) -> dict:
    return catalog.lookup_skus(process_services(), str(ref))
