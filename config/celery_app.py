"""The Celery app (`celery -A config.celery_app ...`). Settings come from config.settings, nowhere else."""
from __future__ import annotations

from celery import Celery, signals

from config import beat, celeryconfig
from config.settings import get_settings
from retail_sync.observability.logging import configure_logging

settings = get_settings()

app = Celery("retail_sync", include=["tasks.inbox", "tasks.orders", "tasks.fulfilment", "tasks.catalog"])
app.config_from_object(celeryconfig.build(settings))
app.conf.beat_schedule = beat.schedule(settings)


@signals.setup_logging.connect
def _json_logging(**_kwargs) -> None:
    configure_logging(settings.log_level)
