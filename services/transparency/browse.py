"""Reading published datasets: one version's rows with search, filters, sorting and keyset pagination,
and the pages a download streams. The rows are the published JSON; nothing here writes."""
from __future__ import annotations

import json

from psycopg2 import errors as pg_errors
from sqlalchemy import and_, cast, func, literal, or_, select, text, tuple_
from sqlalchemy import exc as sa_exc
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Session

from common.errors import FieldError, InvalidRequest, NotFound
from common.pagination import MAX_LIMIT, decode_cursor, encode_cursor
from common.text import normalise
from services.transparency.catalog import CATALOG, Dataset
from services.transparency.models import dataset_rows, dataset_versions
from services.transparency.schemas import search_terms

DUMP_PAGE = 2000  # rows per RPC when a download is streamed
MAX_CHOICES = 300  # a filter with more distinct values than this stays a text box
_choices_cache: dict[str, tuple[str, dict]] = {}  # slug -> (content_sha256, choices): a version never changes
# A search is a few words of two letters or more (one letter is in nearly every row), found through the
# trigram index (migration 0004) and given up after SEARCH_TIMEOUT_MS.
SEARCH_TIMEOUT_MS = 3000
MATCH_COUNT_CAP = 10_000  # a narrowed search says how many rows it finds, up to this many ("more than" past it)


def dataset_or_404(slug: str) -> Dataset:
    if slug not in CATALOG:
        raise NotFound("dataset_not_found", "چنین مجموعه‌داده‌ای منتشر نشده است.", f"no dataset {slug!r}")
    return CATALOG[slug]


def version_or_404(session: Session, slug: str, version: int | None) -> dict:
    query = select(dataset_versions).where(dataset_versions.c.slug == slug)
    query = query.where(dataset_versions.c.version == version) if version else query
    row = session.execute(query.order_by(dataset_versions.c.version.desc()).limit(1)).mappings().first()
    if row is None:
        raise NotFound("version_not_found", "این نسخه از مجموعه‌داده منتشر نشده است.",
                       f"{slug} has no version {version}" if version else f"{slug} has no published version yet")
    return dict(row)


def _typed(dataset: Dataset, name: str, raw: str):
    column = next(c for c in dataset.columns if c.name == name)
    if column.type == "integer":
        try:
            return int(raw)
        except ValueError:
            raise InvalidRequest([FieldError(name, "not_an_integer", "این مقدار باید عدد صحیح باشد.",
                                             f"{name} is an integer column")]) from None
    if column.type == "boolean":
        return raw.lower() in ("true", "1", "yes")
    return normalise(raw) if column.type == "string" else raw


def rows_page(session: Session, slug: str, version: int | None, q: str | None, filters: dict[str, str],
              sort: str | None, descending: bool, after: str | None, limit: int) -> dict:
    dataset = dataset_or_404(slug)
    record = version_or_404(session, slug, version)
    limit = max(1, min(limit, MAX_LIMIT))
    unknown = [name for name in filters if name not in {c.name for c in dataset.columns if c.filterable}]
    if unknown:
        raise InvalidRequest([FieldError(name, "not_filterable", "بر پایهٔ این ستون نمی‌توان پالایش کرد.",
                                         f"filterable columns: {_names(dataset, 'filterable')}") for name in unknown])
    if sort and sort not in {c.name for c in dataset.columns if c.sortable}:
        raise InvalidRequest([FieldError("sort", "not_sortable", "بر پایهٔ این ستون نمی‌توان مرتب کرد.",
                                         f"sortable columns: {_names(dataset, 'sortable')}")])
    terms = search_terms(q)
    where = [dataset_rows.c.slug == slug, dataset_rows.c.version == record["version"]]
    if filters:
        where.append(dataset_rows.c.data.contains({k: _typed(dataset, k, v) for k, v in filters.items()}))
    for word in terms:
        escaped = word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        where.append(dataset_rows.c.search.like(f"%{escaped}%", escape="\\"))
    n = dataset_rows.c.n
    cursor = _checked(decode_cursor(after, 2))
    narrowing = list(where)  # before the cursor's condition: what the whole search finds
    if sort:
        key = func.coalesce(dataset_rows.c.data[sort], cast(literal("null"), JSONB))
        if cursor:
            value = cast(literal(cursor[0]), JSONB)
            where.append(or_(key < value, and_(key == value, n < cursor[1])) if descending
                         else tuple_(key, n) > tuple_(value, cursor[1]))
        order = (key.desc(), n.desc()) if descending else (key, n)
    else:
        if cursor:
            where.append(n < cursor[1] if descending else n > cursor[1])
        order = (n.desc(),) if descending else (n,)
    query = select(dataset_rows.c.n, dataset_rows.c.data).where(*where).order_by(*order).limit(limit + 1)
    found = _searched(session, query) if terms else session.execute(query).all()
    next_cursor = None
    if len(found) > limit:
        found = found[:limit]
        last_n, last = found[-1]
        next_cursor = encode_cursor(json.dumps(last.get(sort) if sort else 0, ensure_ascii=False), last_n)
    answer = {"items": [data for _, data in found], "next": next_cursor, "version": record["version"]}
    if (filters or terms) and not cursor:  # a narrowed first page says how many rows the whole search finds
        answer["matched"] = _matched(session, narrowing, terms) if next_cursor else len(found)
        answer["matched_capped"] = answer["matched"] > MATCH_COUNT_CAP
        answer["matched"] = min(answer["matched"], MATCH_COUNT_CAP)
    return answer


def _matched(session: Session, where: list, terms: list[str]) -> int:
    """How many rows the search finds, counted up to one past MATCH_COUNT_CAP (a bounded count: a broad
    search over millions of rows costs no more than the cap)."""
    query = select(func.count()).select_from(select(literal(1)).select_from(dataset_rows).where(*where)
                                             .limit(MATCH_COUNT_CAP + 1).subquery())
    return (_searched(session, query) if terms else session.execute(query).all())[0][0]


def _searched(session: Session, query) -> list:
    """The rows of a search, given up after SEARCH_TIMEOUT_MS (for this transaction only)."""
    session.execute(text(f"SET LOCAL statement_timeout = {SEARCH_TIMEOUT_MS}"))
    try:
        return session.execute(query).all()
    except sa_exc.OperationalError as exc:
        if not isinstance(exc.orig, pg_errors.QueryCanceled):
            raise
        raise InvalidRequest([FieldError("q", "search_too_broad",
                                         "این جستجو بیش از حد طول کشید؛ واژه‌های دقیق‌تری بنویسید.",
                                         f"the search took longer than {SEARCH_TIMEOUT_MS} ms")]) from None


def dump_page(session: Session, slug: str, version: int, after_n: int, limit: int = DUMP_PAGE) -> list[list]:
    """[[n, row], ...] after row n: a download reads these one page at a time."""
    rows = session.execute(select(dataset_rows.c.n, dataset_rows.c.data)
                           .where(dataset_rows.c.slug == slug, dataset_rows.c.version == version,
                                  dataset_rows.c.n > after_n)
                           .order_by(dataset_rows.c.n).limit(min(limit, DUMP_PAGE))).all()
    return [[n, data] for n, data in rows]


def _checked(cursor: list | None) -> list | None:
    """A cursor is [the sort value as JSON text, row number]; anything else is not one of ours."""
    if cursor is None:
        return None
    try:
        if isinstance(cursor[0], str) and isinstance(cursor[1], int):
            json.loads(cursor[0])
            return cursor
    except ValueError:
        pass
    raise InvalidRequest([FieldError("after", "invalid_cursor", "نشانگر صفحه معتبر نیست.",
                                     "use the `next` cursor of the previous page")])


def _names(dataset: Dataset, flag: str) -> str:
    return ", ".join(c.name for c in dataset.columns if getattr(c, flag)) or "none"


def label_column(dataset: Dataset, name: str) -> str | None:
    """The Persian name beside a code column: `province` → `province_fa`, `purpose_code` → `purpose_fa`."""
    names = set(dataset.column_names)
    for candidate in (f"{name}_fa", f"{name[:-5]}_fa" if name.endswith("_code") else None):
        if candidate and candidate in names:
            return candidate
    return None


def choices(session: Session, dataset: Dataset, record: dict) -> dict[str, list[dict]]:
    """For each filterable code column that has its Persian name beside it: every value the version (`record`)
    holds, with that name ({value, title_fa}), so that a reader picks «تهران» and the filter sends `tehran`.
    Computed once per version's content (a version is never edited)."""
    version = record["version"]
    cached = _choices_cache.get(dataset.slug)
    if cached and cached[0] == record["content_sha256"]:
        return cached[1]
    found = {}
    for column in dataset.columns:
        label = label_column(dataset, column.name) if column.filterable and column.type == "string" else None
        if label is None:
            continue
        value, title = dataset_rows.c.data[column.name].astext, dataset_rows.c.data[label].astext
        pairs = session.execute(select(value, func.min(title))
                                .where(dataset_rows.c.slug == dataset.slug, dataset_rows.c.version == version,
                                       value.is_not(None))
                                .group_by(value).limit(MAX_CHOICES + 1)).all()
        if pairs and len(pairs) <= MAX_CHOICES:
            found[column.name] = [{"value": v, "title_fa": t or v} for v, t in pairs]
    _choices_cache[dataset.slug] = (record["content_sha256"], found)
    return found
