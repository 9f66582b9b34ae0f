from config.celery_app import app
from retail_sync import task_names


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
    import tasks.inbox  # noqa: F401

    assert task_names.PROCESS_INBOX in app.tasks and task_names.SWEEP_INBOX in app.tasks


def test_retry_countdown_never_exceeds_half_the_visibility_timeout():
    import tasks.inbox
    from retail_sync.errors import TransientError

    task = tasks.inbox.process_deliveries_task
    task.push_request(retries=30)
    try:
        assert 0.5 <= task.retry_countdown(TransientError("x")) <= task.max_countdown
        assert task.retry_countdown(TransientError("x", retry_after=10**6)) == task.max_countdown
        assert task.retry_countdown(TransientError("x", retry_after=7)) >= 7
    finally:
        task.pop_request()
