"""Publishing a dataset: a new immutable version, its rows, its place in the chain, its signature and the
`dataset.published` event, in one transaction. Publishing the same rows again makes no new version."""
from __future__ import annotations

from datetime import datetime
from typing import Iterable, Iterator

from sqlalchemy import func, insert, select, text
from sqlalchemy.orm import Session

from common.events.catalog import DATASET_PUBLISHED
from common.events.envelope import new_event
from common.outbox import store as outbox_store
from common.text import normalise
from services.transparency import signing
from services.transparency.catalog import CATALOG, Dataset
from services.transparency.formats.values import project
from services.transparency.models import dataset_rows, dataset_versions, outbox

INSERT_CHUNK = 2000


def search_text(dataset: Dataset, row: dict) -> str:
    return normalise(" ".join(str(row.get(c.name) or "") for c in dataset.columns if c.searchable))


def latest(session: Session, slug: str) -> dict | None:
    row = session.execute(select(dataset_versions).where(dataset_versions.c.slug == slug)
                          .order_by(dataset_versions.c.version.desc()).limit(1)).mappings().first()
    return dict(row) if row else None


def record_view(record: dict) -> dict:
    """A version's record as published: exactly the fields its hashes are made of, and the hashes."""
    view = {**record, "published_at": signing.iso_utc(record["published_at"])}
    return {key: view[key] for key in (*signing.RECORD_FIELDS, "record_sha256", "signature")}


def publish(session: Session, slug: str, rows: Iterable[dict], signer: signing.Signer, now: datetime,
            note: str = "") -> dict | None:
    """The new version's record, or None when the rows are those of the latest version already."""
    dataset = CATALOG[slug]
    # one publisher per dataset at a time, whatever the replica count: versions are numbered in order
    session.execute(text("SELECT pg_advisory_xact_lock(hashtext('transparency.publish'), hashtext(:slug))"),
                    {"slug": slug})
    previous = latest(session, slug)
    version = previous["version"] + 1 if previous else 1
    digest = signing.ContentHash()
    savepoint = session.begin_nested()
    for chunk in _chunks(rows, INSERT_CHUNK):
        values = []
        for row in chunk:
            row = project(row, dataset.column_names)  # exactly what every download will carry
            digest.add(row)
            values.append({"slug": slug, "version": version, "n": digest.count, "data": row,
                           "search": search_text(dataset, row)})
        session.execute(insert(dataset_rows), values)
    content = digest.hexdigest()
    if previous and previous["content_sha256"] == content:
        savepoint.rollback()  # nothing new to publish: drop the rows written above
        return None
    savepoint.commit()
    record = {"slug": slug, "version": version, "published_at": now, "row_count": digest.count,
              "content_sha256": content, "prev_sha256": previous["record_sha256"] if previous else signing.GENESIS,
              "note": note}
    published = record_view({**record, "record_sha256": "", "signature": ""})
    record["record_sha256"] = signing.record_sha256(published)
    record["signature"] = signer.sign(record["record_sha256"])
    session.execute(insert(dataset_versions).values(**record))
    outbox_store.add(session, outbox, new_event(DATASET_PUBLISHED, {
        **record_view(record), "title_fa": dataset.title_fa, "spec": dataset.spec,
    }, subject=f"{slug}/v{version}", time=now))
    return record


def versions_of(session: Session, slug: str) -> list[dict]:
    return [dict(r) for r in session.execute(select(dataset_versions).where(dataset_versions.c.slug == slug)
                                             .order_by(dataset_versions.c.version)).mappings()]


def latest_of_all(session: Session) -> dict[str, dict]:
    newest = (select(dataset_versions.c.slug, func.max(dataset_versions.c.version).label("version"))
              .group_by(dataset_versions.c.slug).subquery())
    rows = session.execute(select(dataset_versions).join(
        newest, (newest.c.slug == dataset_versions.c.slug) & (newest.c.version == dataset_versions.c.version)))
    return {r.slug: dict(r) for r in rows.mappings()}


def first_signed_with(session: Session, public_key_b64: str, look_at: int = 1000) -> str | None:
    """When this key signed its first version (after a rotation, the versions before were signed by another)."""
    for record in session.execute(select(dataset_versions).order_by(dataset_versions.c.published_at)
                                  .limit(look_at)).mappings():
        if signing.signature_ok(public_key_b64, record["record_sha256"], record["signature"]):
            return signing.iso_utc(record["published_at"])
    return None


def stored_rows(session: Session, slug: str, version: int, batch: int = 5000) -> Iterator[dict]:
    """A version's rows in publication order, read in batches (for the verify command)."""
    after = 0
    while True:
        page = session.execute(select(dataset_rows.c.n, dataset_rows.c.data)
                               .where(dataset_rows.c.slug == slug, dataset_rows.c.version == version,
                                      dataset_rows.c.n > after)
                               .order_by(dataset_rows.c.n).limit(batch)).all()
        if not page:
            return
        for _, data in page:
            yield data
        after = page[-1][0]


def _chunks(rows: Iterable[dict], size: int) -> Iterator[list[dict]]:
    chunk: list[dict] = []
    for row in rows:
        chunk.append(row)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
