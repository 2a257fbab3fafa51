"""Which rows each dataset publishes, and when: the demo sets once, the event-fed sets whenever their
events changed them, a correction when a person makes one. dataset_versions.py does the publishing."""
from __future__ import annotations

from datetime import datetime
from typing import Callable, Iterable

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from common.jalali import to_jalali
from services.transparency import dataset_versions, event_rows, signing
from services.transparency.catalog import CATALOG, LICENCE, PUBLISHER, Dataset
from services.transparency.models import dataset_changes
from services.transparency.models import dataset_versions as versions_table

FORMATS = {"contracts": ["csv", "json", "ocds"], "budget": ["csv", "json", "fdp"]}


EVENT_ROWS: dict[str, Callable[[Session], Iterable[dict]]] = event_rows.BY_SLUG


def publish_demo(session: Session, signer: signing.Signer, now: datetime) -> list[str]:
    """Version 1 of every dataset that has none yet; the event-fed ones start from what has arrived."""
    from services.transparency.demo_data import demo_rows  # the demo generator, loaded only to publish the demo

    with session.begin():  # one question a tick once every dataset has its first version
        versioned = set(session.scalars(select(versions_table.c.slug).distinct()))
    published = []
    for slug in (slug for slug in CATALOG if slug not in versioned):
        with session.begin():
            if dataset_versions.latest(session, slug) is not None:
                continue
            rows = EVENT_ROWS[slug](session) if slug in EVENT_ROWS else demo_rows(slug)
            if dataset_versions.publish(session, slug, rows, signer, now, note="نخستین انتشار"):
                published.append(slug)
    return published


def publish_changed(session: Session, signer: signing.Signer, now: datetime) -> list[str]:
    """A new version of each event-fed dataset whose events changed it; one replica per dataset."""
    with session.begin():  # one question a tick when no event changed anything
        changed = set(session.scalars(select(dataset_changes.c.slug)))
    published = []
    for slug in (slug for slug in EVENT_ROWS if slug in changed):
        with session.begin():
            marked = session.execute(select(dataset_changes.c.changed_at).where(dataset_changes.c.slug == slug)
                                     .with_for_update(skip_locked=True)).scalar()
            if marked is None:
                continue
            if dataset_versions.publish(session, slug, EVENT_ROWS[slug](session), signer, now, note="به‌روزرسانی دوره‌ای"):
                published.append(slug)
            session.execute(delete(dataset_changes).where(dataset_changes.c.slug == slug,
                                                          dataset_changes.c.changed_at <= marked))
    return published


def correct(session: Session, signer: signing.Signer, slug: str, change, who: str, now: datetime) -> dict:
    """The latest version's rows with the given rows put in place of those with the same key."""
    from common.errors import Conflict, FieldError, InvalidRequest

    dataset = CATALOG[slug]
    missing = [i for i, row in enumerate(change.rows) if dataset.key not in row]
    if missing:
        raise InvalidRequest([FieldError(f"rows[{i}]", "key_missing", f"هر ردیف باید ستون کلید «{dataset.key}» را داشته باشد.",
                                         f"the key column is {dataset.key}") for i in missing])
    current = dataset_versions.latest(session, slug)
    if current is None:
        raise Conflict("not_published", "این مجموعه‌داده هنوز منتشر نشده است.", f"{slug} has no version to correct")
    replacements = {row[dataset.key]: row for row in change.rows}

    def corrected():
        for row in dataset_versions.stored_rows(session, slug, current["version"]):
            yield replacements.pop(row[dataset.key], row)
        yield from replacements.values()  # rows that were not there: added

    record = dataset_versions.publish(session, slug, corrected(), signer, now, note=f"{change.note} (اصلاح: {who})")
    if record is None:
        raise Conflict("nothing_changed", "این اصلاح چیزی را تغییر نمی‌دهد.", "the rows are those of the latest version")
    return dataset_versions.record_view(record)


def summary(dataset: Dataset, latest: dict | None) -> dict:
    return {
        "slug": dataset.slug, "title_fa": dataset.title_fa, "description_fa": dataset.description_fa,
        "spec": dataset.spec, "theme": dataset.theme, "keywords_fa": list(dataset.keywords_fa),
        "publisher_fa": PUBLISHER["name_fa"], "licence": LICENCE["id"],
        "version": latest["version"] if latest else None,
        "published_at": signing.iso_utc(latest["published_at"]) if latest else None,
        "published_at_fa": to_jalali(latest["published_at"]) if latest else None,
        "row_count": latest["row_count"] if latest else None,
        "content_sha256": latest["content_sha256"] if latest else None,
        "formats": FORMATS.get(dataset.slug, ["csv", "json"]),
    }


def detail(dataset: Dataset, versions: list[dict], choices: dict[str, list[dict]] | None = None) -> dict:
    """A dataset with its columns and versions; a filterable code column also lists its `choices` (each value
    of the latest version with its Persian name: browse.choices), for pickers of Persian names."""
    choices = choices or {}

    def column(c) -> dict:
        described = {"name": c.name, "title_fa": c.title_fa, "type": c.type, "searchable": c.searchable,
                     "filterable": c.filterable, "sortable": c.sortable}
        if c.name in choices:
            described["choices"] = choices[c.name]
        return described

    return {**summary(dataset, versions[-1] if versions else None), "key": dataset.key,
            "columns": [column(c) for c in dataset.columns],
            "versions": [dataset_versions.record_view(v) for v in versions]}
