"""Evidence from the reporter (SPEC C4) and attachments to answers (C6): checked by content, hashed,
kept in the file store, listed on the case, and given back only to those allowed.

Who may download: staff who can see the case; for a violation report, only inspection roles, since
what a reporter sends can name them (SPEC C17); for the same reason an image is kept without its
metadata (image_metadata.py). Each case has a quota (files.py). The bytes are written before the row
that points at them commits; a crash in between leaves an orphan file, never a row without its file.
"""
from __future__ import annotations

import base64
import binascii
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import FieldError, Forbidden, InvalidRequest, NotFound
from common.text import persian_digits
from services.complaints import cases, files, image_metadata, org, workflow
from services.complaints.models import Case, CaseFile
from services.complaints.steps import Change, record, state_of

_store = None


def store() -> files.FileStore:
    global _store
    if _store is None:
        _store = files.default_store()
    return _store


def _decode(content_b64: str) -> bytes:
    try:
        return base64.b64decode(content_b64, validate=True)
    except (binascii.Error, ValueError, TypeError):
        raise InvalidRequest([{"field": "file", "code": "unreadable", "message": "فایل خوانده نشد.",
                               "detail": "content is not base64"}]) from None


def _room(session: Session, case_id: str, purpose: str, incoming: int = 0) -> dict:
    """What the case's quota (files.MAX_FILES_PER_CASE, files.MAX_BYTES_PER_CASE, for `purpose`) leaves,
    after a file of `incoming` bytes; InvalidRequest on field "file" when that file does not fit."""
    count, used = session.execute(select(func.count(), func.coalesce(func.sum(CaseFile.size), 0))
                                  .where(CaseFile.case_id == case_id, CaseFile.purpose == purpose)).one()
    if count >= files.MAX_FILES_PER_CASE:
        raise InvalidRequest([FieldError(
            "file", "too_many_files",
            f"برای هر پرونده بیش از {persian_digits(files.MAX_FILES_PER_CASE)} فایل پذیرفته نمی‌شود.",
            f"the case holds {count} {purpose} files, at most {files.MAX_FILES_PER_CASE}")])
    left = files.MAX_BYTES_PER_CASE - used
    if left <= 0 or incoming > left:
        megabytes = left // (1024 * 1024)
        room = f"تنها {persian_digits(megabytes)} مگابایت دیگر جا دارد" if megabytes >= 1 else "جای دیگری ندارد"
        raise InvalidRequest([FieldError(
            "file", "case_storage_full",
            f"فایل‌های هر پرونده روی هم بیش از {persian_digits(files.MAX_BYTES_PER_CASE // (1024 * 1024))} "
            f"مگابایت نمی‌شوند؛ این پرونده {room}.",
            f"the case's {purpose} files hold {used} bytes, at most {files.MAX_BYTES_PER_CASE}; "
            f"this file has {incoming}")])
    return {"files_left": files.MAX_FILES_PER_CASE - count, "bytes_left": left}


def _save(session: Session, case_id: str, purpose: str, filename: str | None, content: bytes,
          uploaded_by: str | None) -> CaseFile:
    """Checked, stripped of its metadata (an image), within the quota, stored; in the caller's
    transaction, which holds the case's row locked (so two uploads do not both take the last room)."""
    facts = files.inspect(content, filename)
    content = image_metadata.without_metadata(content, facts.content_type)
    facts = files.facts_of(content, facts.content_type)
    _room(session, case_id, purpose, facts.size)
    file_id = str(uuid.uuid4())
    key = f"cases/{case_id}/{file_id}"
    store().put(key, content)
    row = CaseFile(id=file_id, case_id=case_id, purpose=purpose, filename=files.safe_filename(filename, facts.content_type),
                   content_type=facts.content_type, size=facts.size, sha256=facts.sha256, storage_key=key,
                   uploaded_by=uploaded_by)
    session.add(row)
    session.flush()
    return row


def _open_for_evidence(session: Session, tracking_code: str, secret: str | None,
                       actor: dict | None) -> tuple[Case, dict]:
    case = cases.find_for_reporter(session, tracking_code, secret, actor)
    row = cases.lock(session, case)
    if row["status"] == "closed":
        raise workflow.conflict("case_closed", "این پرونده بسته شده است.", "a closed case takes no more evidence")
    return case, row


def authorise_reporter(session: Session, tracking_code: str, secret: str | None, actor: dict | None = None) -> dict:
    """Whether the reporter (an anonymous report's secret, or a named case's reporter session) may send
    evidence now: the gateway asks before it reads the upload (issue 18), and add_from_reporter checks it all
    again."""
    case, _ = _open_for_evidence(session, tracking_code, secret, actor)
    return _room(session, case.id, "evidence")


def add_from_reporter(session: Session, tracking_code: str, secret: str | None, filename: str | None,
                      content_b64: str, actor: dict | None = None) -> dict:
    case, row = _open_for_evidence(session, tracking_code, secret, actor)
    saved = _save(session, case.id, "evidence", filename, _decode(content_b64), None)
    step = workflow.Step("evidence_added", state_of(row))
    record(session, [Change(row, step, {"kind": "citizen", "id": None, "name": None},
                            internal_note=f"{saved.filename} ({saved.content_type}, {saved.size} bytes, "
                                          f"sha256 {saved.sha256})")], cases.now_utc())
    return cases.file_view(saved)


def add_from_staff(session: Session, actor: dict, tracking_code: str, filename: str | None, content_b64: str) -> dict:
    case = cases.find_for_staff(session, actor, tracking_code)
    if case.holder_unit_id != actor["unit"]:
        raise Forbidden("not_your_case", "این پرونده در کارتابل واحد شما نیست.", f"the case is held by {case.holder_unit_id}")
    cases.lock(session, case)
    return cases.file_view(_save(session, case.id, "answer", filename, _decode(content_b64), actor["id"]))


def download(session: Session, actor: dict, tracking_code: str, file_id: str) -> dict:
    case = cases.find_for_staff(session, actor, tracking_code)
    row = session.scalars(select(CaseFile).where(CaseFile.case_id == case.id, CaseFile.id == file_id)).first() \
        if _is_uuid(file_id) else None
    if row is None:
        raise NotFound("file_not_found", "فایل پیدا نشد.", "no such file on this case")
    if case.kind == "violation_report" and row.purpose == "evidence" and actor["role"] not in org.SEES_REPORTER:
        raise Forbidden("evidence_restricted", "مدارک گزارش تخلف فقط در دسترس بازرسی است.",
                        "a violation report's evidence may identify the reporter (SPEC C17)")
    return {**cases.file_view(row), "content_b64": base64.b64encode(store().get(row.storage_key)).decode()}


def _is_uuid(value: str) -> bool:
    try:
        uuid.UUID(value)
        return True
    except ValueError:
        return False
