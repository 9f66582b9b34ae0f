import pytest

from retail_sync.domain.deliveries import INBOX_COLUMN_LENGTHS, Delivery, MalformedDelivery


def make(topic="order.updated", rid="1", version="2026-01-01T00:00:00", body='{"id":1}'):
    return Delivery("woocommerce", topic, topic.split(".")[0], rid, version, body)


def test_created_and_updated_with_the_same_state_are_the_same_news():
    assert make("order.created").dedupe_key == make("order.updated").dedupe_key


def test_a_change_within_the_same_second_is_new():
    created = make("order.created", body='{"id":1,"status":"processing"}')
    cancelled = make("order.updated", body='{"id":1,"status":"cancelled"}')
    assert created.dedupe_key != cancelled.dedupe_key


def test_a_newer_version_is_new():
    assert make(version="2026-01-01T00:00:01").dedupe_key != make().dedupe_key


def test_without_a_version_topic_and_body_decide():
    deleted = make("order.deleted", version=None, body='{"id":1}')
    assert deleted.dedupe_key == make("order.deleted", version=None, body='{"id":1}').dedupe_key
    assert deleted.dedupe_key != make("order.restored", version=None, body='{"id":1}').dedupe_key
    assert deleted.dedupe_key.startswith("order.deleted:sha256:")


def test_the_inbox_limits_are_the_webhook_inbox_column_lengths():
    from retail_sync.persistence.tables import webhook_inbox

    assert INBOX_COLUMN_LENGTHS == {name: webhook_inbox.c[name].type.length for name in INBOX_COLUMN_LENGTHS}


def test_a_delivery_that_does_not_fit_its_columns_is_malformed():
    with pytest.raises(MalformedDelivery, match="resource_id is 201 characters, longer than the inbox keeps"):
        make(rid="1" * 201, version=None)
    make(rid="1" * 200, version=None)  # up to the column's length is fine
