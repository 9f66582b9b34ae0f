"""Thin Celery tasks: parse ids, call one flow, and let `tasks.base.SyncTask` decide retry or dead letter."""
