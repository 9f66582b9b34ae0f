"""Celery settings: queues, routes and the reliability knobs (reference/celery-redis.md §10), from Settings.

Isolation comes from dedicated workers per queue (Procfile), not Redis priorities: on Redis those are
approximate and prefetch defeats them. Routes are plain {"queue": name} so a Redis that lost its binding
tables still delivers.
"""
from __future__ import annotations

from kombu import Queue

from config.settings import Settings
from retail_sync import task_names

QUEUES = ("critical", "default", "bulk")

ROUTES = {
    task_names.PROCESS_INBOX: {"queue": "critical"},  # first step of order capture: a shopper is waiting
    task_names.SWEEP_INBOX: {"queue": "critical"},  # the safety net for that step must not wait behind bulk
    task_names.CAPTURE_STORE_ORDERS: {"queue": "critical"},
    task_names.START_ORDER: {"queue": "critical"},
    task_names.RESERVE_STOCK: {"queue": "critical"},  # SQL only: a shopper's units are taken here
    task_names.REQUEST_CANCEL: {"queue": "critical"},
    task_names.SWEEP_SAGAS: {"queue": "critical"},
    task_names.POST_TO_ERP: {"queue": "default"},
    task_names.RELEASE_TO_WMS: {"queue": "default"},
    task_names.VOID_ERP_ORDER: {"queue": "default"},
    task_names.HOLD_IN_STORE: {"queue": "default"},
    task_names.RESUME_IN_STORE: {"queue": "default"},
    task_names.COMPENSATE_CANCEL: {"queue": "default"},
    task_names.CONFIRM_SHIPMENT: {"queue": "default"},
    task_names.LOOKUP_SKUS: {"queue": "default"},
    task_names.SYNC_CATALOG: {"queue": "bulk"},
    task_names.BACKFILL_ORDERS: {"queue": "bulk"},
}


def build(settings: Settings) -> dict:
    visibility = settings.visibility_timeout_s
    redis_transport = {
        "visibility_timeout": visibility,
        "socket_timeout": 10,
        "socket_connect_timeout": 5,
        "retry_on_timeout": True,
        "health_check_interval": 25,
    }
    return {
        "broker_url": settings.redis_url,
        "result_backend": settings.redis_url,
        "broker_transport_options": redis_transport,
        "result_backend_transport_options": {"visibility_timeout": visibility},
        "visibility_timeout": visibility,
        "broker_connection_retry_on_startup": True,
        "broker_connection_max_retries": None,  # workers wait out a Redis restart instead of exiting
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_queues": [Queue(name, routing_key=name) for name in QUEUES],
        "task_default_queue": "default",
        "task_routes": ROUTES,
        "task_create_missing_queues": False,
        # At least once: ack after the task ran; a worker that dies mid-task gives the message back.
        # Safe only because every task is idempotent and SyncTask counts redeliveries (poison guard).
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        "task_acks_on_failure_or_timeout": True,
        "worker_prefetch_multiplier": 1,
        "worker_cancel_long_running_tasks_on_connection_loss": True,
        "worker_soft_shutdown_timeout": 30,
        "worker_enable_soft_shutdown_on_idle": True,
        "worker_eta_task_limit": 1000,
        "worker_hijack_root_logger": False,
        "task_time_limit": settings.task_time_limit_s,
        "task_soft_time_limit": max(1, settings.task_time_limit_s - 30),
        "task_annotations": {"*": {"max_retries": settings.task_max_retries}},
        "task_ignore_result": True,  # chord members opt back in with ignore_result=False
        "task_store_errors_even_if_ignored": True,
        "result_expires": 2 * 24 * 3600,  # longer than any saga: chord counters share this TTL
        "worker_send_task_events": True,
        "task_send_sent_event": True,
        "beat_scheduler": "retail_sync.entrypoints.beat:LeasedScheduler",
        "beat_max_loop_interval": 5,
        "timezone": "UTC",
        "enable_utc": True,
    }
