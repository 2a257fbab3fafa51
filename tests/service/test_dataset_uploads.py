"""Units hand in datasets (SPEC T10, T11), through the transparency service in a nameko container against the
real broker and PostgreSQL: a file with an error keeps nothing; a clean one waits for another person's approval
and becomes the dataset's next signed version; a dataset built from events takes no file."""
from __future__ import annotations

import base64
import uuid

import pytest
import sqlalchemy as sa
from sqlalchemy.orm import Session

from common.config import get_settings
from common.errors import Conflict, Forbidden, InvalidRequest
from services.transparency import dataset_versions, signing
from services.transparency.service import TransparencyService
from tests.helpers import gateway_proxy


def staff(role: str, username: str) -> dict:
    return {"kind": "staff", "id": str(uuid.uuid4()), "role": role, "username": username, "unit": "hq.rehabilitation"}


EXPERT, HEAD, ADMIN = staff("hq_expert", "rehab.expert"), staff("hq_head", "rehab.head"), staff("admin", "admin")
HEADER = "manager_id,full_name,position_fa,unit_fa,level,level_fa,province,province_fa,appointed_on,education_fa"
ROWS = ["m-1,علي كريمي,مدیرکل,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,۱۴۰۳/۰۵/۱۲,کارشناسی ارشد",
        "m-2,مریم احمدی,معاون توانبخشی,اداره کل بهزیستی استان تهران,province,استان,tehran,تهران,2024-08-02,دکتری"]


def b64(*lines: str) -> str:
    return base64.b64encode("\n".join([HEADER, *lines]).encode()).decode()


@pytest.fixture
def transparency(container_factory, service_config):
    container = container_factory(TransparencyService, {**service_config, "TRANSPARENCY_DEMO_DATA": False})
    container.start()
    with gateway_proxy("transparency", service_config) as proxy:
        yield proxy


@pytest.fixture
def db(engine_of):
    return engine_of("transparency")


def kept(db) -> list[tuple]:
    with Session(db) as session:
        return session.execute(sa.text("SELECT slug, status, version FROM dataset_uploads ORDER BY uploaded_at")).all()


def test_a_file_with_an_error_keeps_nothing_and_a_clean_one_is_published_once_another_person_approves(transparency, db):
    wrong = ROWS[1].replace("2024-08-02", "1403/13/01")
    with pytest.raises(InvalidRequest) as refused:
        transparency.hand_in(EXPERT, "managers", "managers.csv", b64(ROWS[0], wrong), "")
    [error] = refused.value.errors
    assert (error["line"], error["column"], error["code"]) == (3, "appointed_on", "wrong_type")
    assert error["message"].startswith("سطر ۳، ستون «تاریخ انتصاب (میلادی)»")
    assert kept(db) == []  # all or nothing

    waiting = transparency.hand_in(EXPERT, "managers", "managers.csv", b64(*ROWS), "مدیران استان تهران")
    assert (waiting["status"], waiting["row_count"], waiting["uploaded_by_name"]) == ("pending", 2, "rehab.expert")
    with Session(db) as session:
        assert dataset_versions.latest(session, "managers") is None  # nothing public before the approval
    assert [u["id"] for u in transparency.uploads(HEAD)["items"]] == [waiting["id"]]

    with pytest.raises(Forbidden) as refused:
        transparency.approve_upload({**HEAD, "id": EXPERT["id"]}, waiting["id"])  # whoever uploaded it
    assert refused.value.code == "same_person"
    with pytest.raises(Forbidden):
        transparency.approve_upload(EXPERT, waiting["id"])  # an expert hands in, never approves

    approved = transparency.approve_upload(HEAD, waiting["id"])
    assert (approved["status"], approved["version"], approved["decided_by_name"]) == ("approved", 1, "rehab.head")
    assert "مدیران استان تهران" in approved["published"]["note"] and "rehab.expert" in approved["published"]["note"]
    key = signing.Signer.from_seed(get_settings().transparency_signing_key).public_key_b64()
    assert signing.signature_ok(key, approved["published"]["record_sha256"], approved["published"]["signature"])
    with Session(db) as session:
        rows = list(dataset_versions.stored_rows(session, "managers", 1))
        event = session.scalar(sa.text("SELECT envelope->>'subject' FROM outbox WHERE envelope->>'subject' = 'managers/v1'"))
    assert [(r["full_name"], r["appointed_on"], r["appointed_on_jalali"]) for r in rows] == [
        ("علی کریمی", "2024-08-02", "1403/05/12"), ("مریم احمدی", "2024-08-02", "1403/05/12")]
    assert event == "managers/v1"  # dataset.published, for the ministry's other systems (T11)

    with pytest.raises(Conflict) as refused:
        transparency.approve_upload(ADMIN, waiting["id"])
    assert refused.value.code == "upload_decided"


def test_a_newer_file_supersedes_a_waiting_one_and_the_same_rows_again_make_no_version(transparency, db):
    first = transparency.hand_in(EXPERT, "managers", "a.csv", b64(ROWS[0]), "")
    second = transparency.hand_in(HEAD, "managers", "b.csv", b64(*ROWS), "")
    assert kept(db) == [("managers", "superseded", None), ("managers", "pending", None)]
    with Session(db) as session:  # a decided file's rows are not kept twice (the published ones are the version's)
        assert session.scalar(sa.text("SELECT rows FROM dataset_uploads WHERE status = 'superseded'")) == []
    with pytest.raises(Conflict):
        transparency.approve_upload(ADMIN, first["id"])
    assert transparency.approve_upload(ADMIN, second["id"])["version"] == 1

    again = transparency.hand_in(EXPERT, "managers", "b.csv", b64(*ROWS), "")
    with pytest.raises(Conflict) as refused:
        transparency.approve_upload(ADMIN, again["id"])
    assert refused.value.code == "nothing_changed"
    with Session(db) as session:
        assert [v["version"] for v in dataset_versions.versions_of(session, "managers")] == [1]


def test_only_hq_units_hand_in_and_only_the_datasets_they_keep(transparency, db):
    with pytest.raises(Forbidden):
        transparency.hand_in(staff("county_expert", "rey.expert"), "managers", "m.csv", b64(*ROWS), "")
    with pytest.raises(Conflict) as refused:
        transparency.hand_in(EXPERT, "donations", "d.csv", b64(*ROWS), "")
    assert refused.value.code == "not_handed_in"
    with pytest.raises(InvalidRequest) as refused:
        transparency.hand_in(EXPERT, "managers", "m.csv", "not base64!", "")
    assert refused.value.errors[0]["field"] == "file"
    assert kept(db) == []
