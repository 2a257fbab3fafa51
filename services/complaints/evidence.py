"""Evidence from the reporter (SPEC C4) and attachments to answers (C6): checked by content, hashed,
kept in the file store, listed on the case, and given back only to those allowed.

Who may download: staff who can see the case; for a violation report, only inspection roles, since
what a reporter sends can name them (SPEC C17). The bytes are written before the row that points at
them commits; a crash in between leaves an orphan file, never a row without its file.
"""
from __future__ import annotations

import base64
import binascii
import uuid

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from common.errors import Forbidden, InvalidRequest, NotFound
from services.complaints import cases, files, org, workflow
from services.complaints.models import CaseFile
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


def _save(session: Session, case_id: str, purpose: str, filename: str | None, content: bytes,
          uploaded_by: str | None) -> CaseFile:
    facts = files.inspect(content, filename)
    count = session.scalar(select(func.count()).select_from(CaseFile).where(CaseFile.case_id == case_id))
    if count >= files.MAX_FILES_PER_CASE:
        raise InvalidRequest([{"field": "file", "code": "too_many_files",
                               "message": f"بیش از {files.MAX_FILES_PER_CASE} فایل برای یک پرونده پذیرفته نمی‌شود.",
                               "detail": f"a case holds at most {files.MAX_FILES_PER_CASE} files"}])
    file_id = str(uuid.uuid4())
    key = f"cases/{case_id}/{file_id}"
    store().put(key, content)
    row = CaseFile(id=file_id, case_id=case_id, purpose=purpose, filename=files.safe_filename(filename, facts.content_type),
                   content_type=facts.content_type, size=facts.size, sha256=facts.sha256, storage_key=key,
                   uploaded_by=uploaded_by)
    session.add(row)
    session.flush()
    return row


def add_from_reporter(session: Session, tracking_code: str, secret: str | None, filename: str | None,
                      content_b64: str) -> dict:
    content = _decode(content_b64)
    case = cases.find_for_citizen(session, tracking_code, secret)
    row = cases.lock(session, case)
    if row["status"] == "closed":
        raise workflow.conflict("case_closed", "این پرونده بسته شده است.", "a closed case takes no more evidence")
    saved = _save(session, case.id, "evidence", filename, content, None)
    step = workflow.Step("evidence_added", state_of(row))
    record(session, [Change(row, step, {"kind": "citizen", "id": None, "name": None},
                            internal_note=f"{saved.filename} ({saved.content_type}, {saved.size} bytes, "
                                          f"sha256 {saved.sha256})")], cases.now_utc())
    return cases.file_view(saved)


def add_from_staff(session: Session, actor: dict, tracking_code: str, filename: str | None, content_b64: str) -> dict:
    content = _decode(content_b64)
    case = cases.find_for_staff(session, actor, tracking_code)
    if case.holder_unit_id != actor["unit"]:
        raise Forbidden("not_your_case", "این پرونده در کارتابل واحد شما نیست.", f"the case is held by {case.holder_unit_id}")
    return cases.file_view(_save(session, case.id, "answer", filename, content, actor["id"]))


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
