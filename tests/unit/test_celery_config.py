import tasks.catalog  # noqa: F401  (registers its tasks: a worker imports them through `include`, a test must)
import tasks.fulfilment  # noqa: F401
import tasks.inbox
import tasks.orders  # noqa: F401
from config.celery_app import app
from retail_sync import task_names
from retail_sync.errors import TransientError
from tasks.base import SyncTask


def test_our_config_package_is_the_one_imported():
    assert app.main == "retail_sync"


def test_queues_routes_and_reliability_settings():
    conf = app.conf
    assert {q.name for q in conf.task_queues} == {"critical", "default", "bulk"}
    assert conf.task_routes[task_names.PROCESS_INBOX] == {"queue": "critical"}
    assert conf.task_acks_late and conf.task_reject_on_worker_lost
    assert conf.worker_prefetch_multiplier == 1
    assert conf.accept_content == ["json"] and conf.task_serializer == "json"
    visibility = conf.broker_transport_options["visibility_timeout"]
    assert visibility == conf.result_backend_transport_options["visibility_timeout"] == conf.visibility_timeout
    assert conf.task_time_limit < visibility


def test_tasks_are_registered_under_stable_names():
    assert task_names.PROCESS_INBOX in app.tasks and task_names.SWEEP_INBOX in app.tasks


def test_retry_countdown_never_exceeds_half_the_visibility_timeout():
    task = tasks.inbox.process_deliveries_task
    task.push_request(retries=30)
    try:
        assert 0.5 <= task.retry_countdown(TransientError("x")) <= task.max_countdown
        assert task.retry_countdown(TransientError("x", retry_after=10**6)) == task.max_countdown
        assert task.retry_countdown(TransientError("x", retry_after=7)) >= 7
    finally:
        task.pop_request()


def _all_task_names() -> set[str]:
    return {value for name, value in vars(task_names).items() if name.isupper() and isinstance(value, str)}


def test_every_task_name_is_routed_and_registered_on_a_sync_task():
    names = _all_task_names()
    assert names == set(app.conf.task_routes)  # every name has a queue, no route names a task that is gone
    assert all(app.conf.task_routes[name]["queue"] in {"critical", "default", "bulk"} for name in names)
    for name in names:
        assert name in app.tasks, name
        assert isinstance(app.tasks[name], SyncTask), name


def test_critical_holds_only_sql_and_store_read_work():
    # Each of these touches only SQL (capture reads the store): an ERP 429 storm can never stall them.
    on_critical = {name for name, route in app.conf.task_routes.items() if route["queue"] == "critical"}
    assert on_critical == {
        task_names.PROCESS_INBOX, task_names.SWEEP_INBOX, task_names.CAPTURE_STORE_ORDERS, task_names.START_ORDER,
        task_names.RESERVE_STOCK, task_names.REQUEST_CANCEL, task_names.SWEEP_SAGAS,
    }
    # every call to the ERP or the WMS, and every write to the store, waits on default
    for name in (task_names.POST_TO_ERP, task_names.RELEASE_TO_WMS, task_names.VOID_ERP_ORDER,
                 task_names.HOLD_IN_STORE, task_names.COMPENSATE_CANCEL, task_names.CONFIRM_SHIPMENT,
                 task_names.LOOKUP_SKUS):
        assert app.conf.task_routes[name] == {"queue": "default"}, name
    assert {app.conf.task_routes[n]["queue"] for n in (task_names.SYNC_CATALOG, task_names.BACKFILL_ORDERS)} == {"bulk"}


def test_only_the_chord_tasks_keep_their_results():
    chord = {task_names.RESERVE_STOCK, task_names.POST_TO_ERP, task_names.RELEASE_TO_WMS}
    assert app.conf.task_ignore_result is True
    for name in _all_task_names():
        assert app.tasks[name].ignore_result is (name not in chord), name


def test_beat_entries_send_routed_tasks_that_expire_within_their_interval():
    from config.settings import get_settings

    settings = get_settings()
    schedule = app.conf.beat_schedule
    expected = {
        task_names.SWEEP_INBOX: settings.inbox_sweep_interval_s,
        task_names.SWEEP_SAGAS: settings.saga_sweep_interval_s,
        task_names.BACKFILL_ORDERS: settings.order_backfill_interval_s,
        task_names.SYNC_CATALOG: settings.catalog_sync_interval_s,
    }
    assert {entry["task"]: entry["schedule"] for entry in schedule.values()} == expected
    for entry in schedule.values():
        assert entry["task"] in app.conf.task_routes
        assert 0 < entry["options"]["expires"] <= entry["schedule"]
