"""Units hand in datasets (SPEC T10, T11): an HQ unit's head or expert uploads a dataset's whole file; it is
checked (uploads.py) and, with no error at all, waits for another person's approval: an HQ unit head or the
administrator, never the one who uploaded it. Approved, its rows are published as the dataset's next signed
version (dataset_versions.py). Only the datasets units keep ("demo" in the catalog) are handed in; those built
from events are the platform's own."""
from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import insert, select, update
from sqlalchemy.orm import Session

from common.errors import Conflict, Forbidden, NotFound
from common.jalali import stamp
from services.transparency import dataset_versions, signing, uploads
from services.transparency.catalog import CATALOG, Dataset
from services.transparency.models import dataset_uploads

RECENT = 20


def uploadable(slug: str) -> Dataset:
    dataset = CATALOG.get(slug)
    if dataset is None:
        raise NotFound("dataset_not_found", "چنین مجموعه‌داده‌ای نیست.", f"no dataset {slug!r}")
    if dataset.source != "demo":
        raise Conflict("not_handed_in", "این مجموعه‌داده از رویدادهای سامانه ساخته می‌شود و پرونده‌ای برای آن "
                                        "پذیرفته نیست.", f"{slug} is built from events, not uploaded")
    return dataset


def datasets() -> list[dict]:
    """The datasets units hand in, with the columns a file carries (for the upload page)."""
    return [{"slug": d.slug, "title_fa": d.title_fa,
             "columns": [{"name": c.name, "title_fa": c.title_fa, "type": c.type, "required": not c.nullable}
                         for c in uploads.handed_in(d)]}
            for d in CATALOG.values() if d.source == "demo"]


def checked(slug: str, content: bytes) -> list[dict]:
    """The file's rows, or InvalidRequest with the whole report (then nothing is kept)."""
    return uploads.check(uploadable(slug), content)


def keep(session: Session, slug: str, filename: str, rows: list[dict], note: str, actor: dict,
         now: datetime) -> dict:
    """A checked file, waiting for approval; it supersedes a waiting one for the same dataset."""
    session.execute(update(dataset_uploads).where(dataset_uploads.c.slug == slug,
                                                  dataset_uploads.c.status == "pending")
                    .values(status="superseded", decided_at=now, rows=[]))
    record = {"id": str(uuid.uuid4()), "slug": slug, "filename": filename[:200], "note": note,
              "row_count": len(rows), "rows": rows, "uploaded_by": actor["id"], "uploaded_by_name": actor["username"],
              "uploaded_at": now, "status": "pending"}
    session.execute(insert(dataset_uploads).values(**record))
    return view(record)


def recent(session: Session) -> list[dict]:
    """The newest uploads, waiting ones first, without their rows."""
    columns = [c for c in dataset_uploads.c if c.name != "rows"]
    found = session.execute(select(*columns).order_by((dataset_uploads.c.status == "pending").desc(),
                                                      dataset_uploads.c.uploaded_at.desc()).limit(RECENT))
    return [view(dict(row)) for row in found.mappings()]


def approve(session: Session, upload_id: str, actor: dict, signer: signing.Signer, now: datetime) -> dict:
    """Publish a waiting upload as the dataset's next version."""
    record = _waiting(session, upload_id)
    if record["uploaded_by"] == actor["id"]:
        raise Forbidden("same_person", "کسی که پرونده را بارگذاری کرده نمی‌تواند انتشار آن را تأیید کند.",
                        "the uploader of a file cannot approve it")
    note = (f"{record['note']} " if record["note"] else "") + \
        f"(پروندهٔ واحد: بارگذاری {record['uploaded_by_name']}، تأیید {actor['username']})"
    published = dataset_versions.publish(session, record["slug"], record["rows"], signer, now, note=note)
    if published is None:
        raise Conflict("nothing_changed", "ردیف‌های این پرونده همان ردیف‌های نسخهٔ منتشرشده است.",
                       "the rows are those of the latest version")
    decided = {"status": "approved", "decided_by_name": actor["username"], "decided_at": now,
               "version": published["version"]}
    session.execute(update(dataset_uploads).where(dataset_uploads.c.id == upload_id).values(**decided, rows=[]))
    return {**view({**record, **decided}), "published": dataset_versions.record_view(published)}


def _waiting(session: Session, upload_id: str) -> dict:
    try:
        uuid.UUID(upload_id)
    except ValueError:
        row = None
    else:
        row = session.execute(select(dataset_uploads).where(dataset_uploads.c.id == upload_id)
                              .with_for_update()).mappings().first()
    if row is None:
        raise NotFound("upload_not_found", "چنین پرونده‌ای بارگذاری نشده است.", f"no upload {upload_id}")
    if row["status"] != "pending":
        raise Conflict("upload_decided", "این پرونده دیگر در انتظار تأیید نیست (تأیید شده یا پروندهٔ تازه‌تری "
                                         "جای آن را گرفته است).", f"the upload is {row['status']}")
    return dict(row)


def view(record: dict) -> dict:
    dataset = CATALOG[record["slug"]]
    decided = record.get("decided_at")
    return {"id": record["id"], "slug": record["slug"], "title_fa": dataset.title_fa, "filename": record["filename"],
            "note": record["note"], "row_count": record["row_count"], "uploaded_by": record["uploaded_by"],
            "uploaded_by_name": record["uploaded_by_name"], "uploaded_at": stamp(record["uploaded_at"]),
            "status": record["status"], "decided_by_name": record.get("decided_by_name"),
            "decided_at": stamp(decided) if decided else None, "version": record.get("version")}
