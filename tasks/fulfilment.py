"""Shipment confirmation: the WMS said a shipment left; tell the store, invoice in the ERP, complete the order."""
from __future__ import annotations

from config.celery_app import app
from retail_sync import task_names
from retail_sync.bootstrap import process_services
from retail_sync.flows import fulfilment
from tasks.base import SyncTask


@app.task(base=SyncTask, name=task_names.CONFIRM_SHIPMENT)
def confirm_shipment_task(shipment_id: str) -> dict:
    return fulfilment.confirm_shipment(process_services(), str(shipment_id))
