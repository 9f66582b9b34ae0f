"""Order-to-fulfilment tasks: each parses its ids and calls one flow (retail_sync.flows.capture / saga /
store_updates / cancellation / backfill). Queues are set by name in config/celeryconfig.py ROUTES.

The chord members (RESERVE_STOCK, POST_TO_ERP) and its body (RELEASE_TO_WMS) keep their results
(`ignore_result=False`): the Redis chord counts finished members through the result backend. SyncTask returns a
dict instead of raising when it dead-letters a business failure, so a failed member still completes the chord
(its body then finds nothing releasable and does nothing; the saga state in SQL decides, not the chord).
"""
from __future__ import annotations

from config.celery_app import app
from retail_sync import task_names
from retail_sync.bootstrap import process_services
from retail_sync.flows import backfill, cancellation, capture, saga, store_updates
from tasks.base import SyncTask



@app.task(base=SyncTask, name=task_names.CAPTURE_STORE_ORDERS)
def capture_store_orders_task(store_ids: list[int]) -> dict:
    return capture.capture_store_orders(process_services(), [int(i) for i in store_ids])


@app.task(base=SyncTask, name=task_names.START_ORDER)
def start_order_task(ref: str) -> dict:
    return capture.start_order(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.RESERVE_STOCK, ignore_result=False)
def reserve_stock_task(ref: str) -> dict:
    return saga.reserve_stock(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.POST_TO_ERP, ignore_result=False)
def post_to_erp_task(ref: str) -> dict:
    return saga.post_to_erp(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.RELEASE_TO_WMS, ignore_result=False)
def release_to_wms_task(ref: str) -> dict:
    return saga.release_to_wms(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.VOID_ERP_ORDER)
def void_erp_order_task(ref: str) -> dict:
    return saga.void_erp_order(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.HOLD_IN_STORE)
def hold_in_store_task(ref: str) -> dict:
    return store_updates.hold_in_store(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.RESUME_IN_STORE)
def resume_in_store_task(ref: str) -> dict:
    return store_updates.resume_in_store(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.REQUEST_CANCEL)
def request_cancel_task(ref: str, reason: str) -> dict:
    outcome = cancellation.request_cancel(process_services(), str(ref), str(reason), actor=cancellation.ENGINE_ACTOR)
    return {"outcome": outcome}


@app.task(base=SyncTask, name=task_names.COMPENSATE_CANCEL)
def compensate_cancel_task(ref: str) -> dict:
    return cancellation.compensate_cancel(process_services(), str(ref))


@app.task(base=SyncTask, name=task_names.SWEEP_SAGAS)
def sweep_sagas_task() -> dict:
    return saga.sweep_sagas(process_services())


@app.task(base=SyncTask, name=task_names.BACKFILL_ORDERS)
def backfill_orders_task() -> dict:
    return backfill.backfill_orders(process_services())
