"""Celery's own ceiling for the saga's shape of work, for scripts/bench_orders.py: per order one `capture` task on
`critical` that starts a chord of two empty header tasks (`reserve` on critical, `post` on default) and an empty
body (`release` on default) — the engine's task hops with nothing inside them. Same broker, result backend,
reliability settings (config/celeryconfig.py) and worker layout as the engine, so the ratio compares like with like.

    celery -A bench_ceiling_app worker -Q critical ...     (cwd scripts/, started by bench_orders.py)
"""
from __future__ import annotations

import redis
from celery import Celery, chord, signals

from bench_orders import CEILING_DONE_KEY  # the driver waits on this list; one name for both sides
from config import celeryconfig
from config.settings import get_settings
from retail_sync.observability.logging import configure_logging

settings = get_settings()
app = Celery("bench_ceiling")
app.config_from_object(celeryconfig.build(settings))
app.conf.task_routes = {
    "bench.capture": {"queue": "critical"},
    "bench.reserve": {"queue": "critical"},
    "bench.post": {"queue": "default"},
    "bench.release": {"queue": "default"},
}
app.conf.beat_schedule = {}


@signals.setup_logging.connect
def _logging(**_kwargs) -> None:
    configure_logging(settings.log_level)  # as the engine's workers log (and so they announce "ready.")
_redis = redis.Redis.from_url(settings.redis_url)


@app.task(name="bench.capture")
def capture(order: int) -> None:
    chord([reserve.si(order), post.si(order)])(release.si(order))


@app.task(name="bench.reserve", ignore_result=False)
def reserve(order: int) -> None:
    return None


@app.task(name="bench.post", ignore_result=False)
def post(order: int) -> None:
    return None


@app.task(name="bench.release")
def release(order: int) -> None:
    _redis.rpush(CEILING_DONE_KEY, order)
