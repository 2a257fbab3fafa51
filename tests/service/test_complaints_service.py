"""The complaints service in a nameko container against the real broker and PostgreSQL."""
import pytest
import sqlalchemy as sa
from tests.helpers import gateway_proxy

from common.errors import InvalidRequest, NotFound
from common.events import schemas
from services.complaints.service import ComplaintsService

CASE = {"kind": "complaint", "text": "مستمری این ماه واریز نشده است.", "mobile": "+989121234567",
        "national_id": "0499370899", "name": "مريم"}


@pytest.fixture
def complaints(container_factory, service_config):
    container = container_factory(ComplaintsService, service_config)
    container.start()
    with gateway_proxy("complaints", service_config) as proxy:
        yield proxy


@pytest.fixture
def db(engine_of):
    return engine_of("complaints")


def test_registering_stores_the_case_and_its_event_in_one_transaction(complaints, db):
    case = complaints.register_case(CASE)
    code = case["tracking_code"]
    assert case["status"] == "registered" and case["kind_fa"] == "شکایت"
    assert [s["stage"] for s in case["timeline"]] == ["registered"]
    assert "mobile" not in str(case) and "0499370899" not in str(case)  # no personal data in the view

    with db.connect() as conn:
        row = conn.execute(sa.text("SELECT reporter_mobile, reporter_name, reporter_national_id FROM cases "
                                   "WHERE tracking_code = :c"), {"c": code}).one()
        events = conn.execute(sa.text("SELECT routing_key, exchange, envelope, published_at FROM outbox")).all()
    assert tuple(row) == ("09121234567", "مریم", "0499370899")
    assert len(events) == 1
    routing_key, exchange, envelope, published_at = events[0]
    assert exchange == "complaints.events"
    assert routing_key == envelope["type"] == "ir.behzisti.complaints.case.registered.v1"
    assert envelope["subject"] == code and envelope["data"]["reporter_mobile"] == "09121234567"
    assert published_at is None  # the relay's job
    assert schemas.errors_of(envelope) == []


def test_a_case_reads_back_by_its_code(complaints):
    code = complaints.register_case(CASE)["tracking_code"]
    spaced = " ".join(code[i:i + 4] for i in range(0, 16, 4))
    case = complaints.get_case(spaced)
    assert case["tracking_code"] == code
    assert case["registered_at"]["iso"].endswith("Z") and case["registered_at"]["jalali"].startswith("۱۴")


def test_bad_input_is_refused_by_the_service_too_and_stores_nothing(complaints, db):
    with pytest.raises(InvalidRequest) as err:
        complaints.register_case({"kind": "gossip", "text": "x"})
    assert {e["field"] for e in err.value.errors} == {"kind", "text"}
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 0
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() == 0


def test_unknown_codes_are_not_found(complaints):
    with pytest.raises(NotFound) as err:
        complaints.get_case("4203917755102846")
    assert err.value.code == "case_not_found"


def test_the_same_idempotency_key_registers_once_and_answers_the_same(complaints, db):
    key = {"client": "ip:10.0.0.1", "key": "3f1c9a7e-retry"}
    first = complaints.register_case(CASE, key)
    again = complaints.register_case(CASE, key)
    assert again == first
    other_client = complaints.register_case(CASE, {**key, "client": "ip:10.0.0.2"})
    assert other_client["tracking_code"] != first["tracking_code"]  # keys are per client
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 2
        assert conn.execute(sa.text("SELECT count(*) FROM outbox")).scalar() == 2


def test_the_same_key_with_another_body_is_refused_and_changes_nothing(complaints, db):
    from common.idempotency import IdempotencyConflict

    key = {"client": "ip:10.0.0.1", "key": "3f1c9a7e-retry"}
    complaints.register_case(CASE, key)
    with pytest.raises(IdempotencyConflict):
        complaints.register_case({**CASE, "text": "متن دیگری برای همان کلید تکرار."}, key)
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1


def test_concurrent_retries_with_one_key_register_once(complaints, service_config, db):
    import eventlet

    key = {"client": "ip:10.0.0.1", "key": "concurrent-retry"}

    def register():
        with gateway_proxy("complaints", service_config) as proxy:
            return proxy.register_case(CASE, key)["tracking_code"]

    pool = eventlet.GreenPool()
    codes = set(pool.imap(lambda _: register(), range(6)))
    assert len(codes) == 1
    with db.connect() as conn:
        assert conn.execute(sa.text("SELECT count(*) FROM cases")).scalar() == 1
