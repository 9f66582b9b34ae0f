from datetime import timedelta

from retail_sync.persistence import cursors
from retail_sync.persistence.bindings import BindingRepository
from retail_sync.persistence.exception_store import DeadLetter, list_open, open_exception
from retail_sync.persistence.leases import acquire_or_renew, release


def test_a_repeated_dead_letter_bumps_the_open_row(services, clock):
    letter = DeadLetter(kind="task.failed", error_type="X", error_message="boom", task_name="t", task_args=[[1]])
    with services.uow() as uow:
        first = open_exception(uow.conn, letter, clock())
        second = open_exception(uow.conn, letter, clock())
        uow.commit()
    assert first == second
    with services.uow() as uow:
        [row] = list_open(uow.conn)
    assert row["occurrences"] == 2


def test_bindings_link_ids_both_ways(services, clock):
    with services.uow() as uow:
        repo = BindingRepository(uow.conn)
        repo.bind("erp", "sale_order", "42", "order:woocommerce:7", clock())
        repo.bind("erp", "sale_order", "42", "order:woocommerce:7", clock(), written_hash="abc")
        assert repo.to_internal("erp", "sale_order", "42") == "order:woocommerce:7"
        assert repo.to_external("erp", "sale_order", "order:woocommerce:7") == "42"
        assert repo.to_internal("erp", "sale_order", "43") is None


def test_cursors_round_trip(services, clock):
    with services.uow() as uow:
        cursors.write(uow.conn, "woo.orders", "2026-11-27T10:00:00", clock())
        cursors.write(uow.conn, "woo.orders", "2026-11-27T11:00:00", clock())
        assert cursors.read(uow.conn, "woo.orders") == "2026-11-27T11:00:00"


def test_a_lease_has_one_holder_until_it_lapses(services, clock):
    ttl = timedelta(seconds=30)

    def take(holder):
        with services.uow() as uow:
            held = acquire_or_renew(uow.conn, "beat", holder, clock(), ttl)
            uow.commit()
        return held

    assert take("a") and take("a")
    assert not take("b")
    clock.advance(31)
    assert take("b") and not take("a")
    with services.uow() as uow:
        release(uow.conn, "beat", "b", clock())
        uow.commit()
    assert take("a")
