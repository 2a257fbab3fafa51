"""The budget as a Fiscal Data Package: a Tabular Data Package descriptor (datapackage.json) with profile
"fiscal-data-package" describing the budget CSV (the one csv_stream writes for the budget dataset).

The descriptor carries both generations of the fiscal modelling, so that tools of either read it:
- Fiscal Data Package 1.0 (rc1): each field's `columnType` from the budget taxonomy
  (https://specs.frictionlessdata.io/taxonomies/fiscal/budgets.json), the two amount columns mapped onto
  one `value` with their phase (`normalize` + `extraFields`), and constant fields for the currency (IRR),
  the administrative unit and the direction (expenditure);
- Fiscal Data Package 0.3: the `model` with measures (allocated, spent) and dimensions (budget line,
  fiscal year, recipient), which is what the JSON Schema frictionless validates the profile against
  requires.

frictionless fetches that JSON Schema from specs.frictionlessdata.io when it meets the profile; the
machines are offline, so `validate_package` serves it from profiles/fiscal-data-package.json (the
compiled schema exactly as published on that site; see profiles/README.md) and never reaches the network.

One upstream defect is worked around, in `profile_schema()`, not in the file: the compiled schema
includes the Tabular Data Package schema, whose `profile` must be "tabular-data-package", so no
descriptor with the profile "fiscal-data-package" that the FDP spec asks for (and that makes frictionless
pick this schema) could ever pass (frictionlessdata/datapackage#743). The served copy also accepts
"fiscal-data-package" there; nothing else is changed.
"""
from __future__ import annotations

import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import timedelta
from pathlib import Path

from common.jalali import year_start
from services.transparency.catalog import CATALOG, LICENCE, PUBLISHER

PROFILE_URL = "https://specs.frictionlessdata.io/schemas/fiscal-data-package.json"
PROFILE_PATH = Path(__file__).parent / "profiles" / "fiscal-data-package.json"
BUDGET_TAXONOMY_URL = "https://specs.frictionlessdata.io/taxonomies/fiscal/budgets.json"
SPEC_URL = "https://specs.frictionlessdata.io/fiscal-data-package/"
MEDIA_TYPE = "application/json"

# The budget dataset's columns -> Fiscal Data Package 1.0 ColumnTypes (None: described by `normalize`).
COLUMN_TYPES = {
    "year": "date:fiscal-year",
    "code": "functional-classification:generic:code",
    "title_fa": "functional-classification:generic:label",
    "purpose_fa": "functional-classification:generic:description",
    "legal_basis_fa": "functional-classification:generic:legal-basis",
    "pays": "economic-classification:generic:code",
    "pays_fa": "economic-classification:generic:label",
    "per_capita_rials": "per-capita-amount",
    "yearly_allocation_rials": None,
    "spent_rials": None,
}
PHASES = {"yearly_allocation_rials": "approved", "spent_rials": "executed"}
# Types this package adds to the taxonomy (FDP 1.0 "explicit typing").
CUSTOM_COLUMN_TYPES = [
    {"name": "functional-classification:generic:legal-basis", "dataType": "string"},
    {"name": "per-capita-amount", "dataType": "number"},
]
_MONEY = ("per_capita_rials", "yearly_allocation_rials", "spent_rials")


def _fiscal_period(year: int) -> dict:
    """The Jalali fiscal year (1 Farvardin to the last day of Esfand) in Gregorian dates."""
    return {"start": year_start(year).isoformat(), "end": (year_start(year + 1) - timedelta(days=1)).isoformat()}


def _field(column) -> dict:
    field = {"name": column.name, "title": column.title_fa,
             "type": "number" if column.name in _MONEY else column.type}
    if column.name in _MONEY:
        field["bareNumber"] = True
        field["constraints"] = {"minimum": 0}
    if column.name in ("year", "code", "title_fa", "pays"):
        field["constraints"] = {"required": True}
    column_type = COLUMN_TYPES[column.name]
    if column_type:
        field["columnType"] = column_type
    if column.name in PHASES:
        field["normalize"] = {"phase": PHASES[column.name]}
    return field


def fiscal_datapackage(budget_rows: list[dict], meta: dict, csv_path: str) -> dict:
    """The datapackage.json of the budget. `budget_rows`: the budget dataset's rows (they give the fiscal
    year; none before payments announced a year's lines, and then the package names no year); `meta`:
    "version" (int), "published_at" (ISO 8601 date-time), optionally "title"; `csv_path`: where the budget
    CSV is, relative to the descriptor (or a URL)."""
    dataset = CATALOG["budget"]
    years = sorted({int(row["year"]) for row in budget_rows})
    if len(years) > 1:
        raise ValueError(f"a fiscal data package holds one fiscal year, got {years}")
    year = years[0] if years else None
    period = {"fiscalPeriod": _fiscal_period(year)} if year else {}
    return {
        "profile": "fiscal-data-package",
        "name": f"behzisti-budget-{year}" if year else "behzisti-budget",
        "title": meta.get("title") or (f"{dataset.title_fa} — سال {year}" if year else dataset.title_fa),
        "description": dataset.description_fa,
        "version": str(meta.get("version", 1)),
        "created": meta["published_at"],
        "homepage": PUBLISHER["portal"],
        "keywords": list(dataset.keywords_fa + dataset.keywords_en),
        "licenses": [{"name": LICENCE["id"], "path": LICENCE["url"], "title": LICENCE["title_en"]}],
        "contributors": [{"title": PUBLISHER["name_fa"], "role": "publisher", "path": PUBLISHER["homepage"],
                          "email": PUBLISHER["email"]}],
        "countryCode": "IR",
        "granularity": "aggregated",
        **period,
        "columnTypes": [BUDGET_TAXONOMY_URL, CUSTOM_COLUMN_TYPES],
        "resources": [{
            "name": "budget",
            "title": dataset.title_fa,
            "path": csv_path,
            "profile": "tabular-data-resource",
            "format": "csv",
            "mediatype": "text/csv",
            "encoding": "utf-8-sig",  # the CSV starts with a byte order mark
            "schema": {
                "fields": [_field(column) for column in dataset.columns],
                "primaryKey": ["year", "code"],
                "missingValues": [""],
                "extraFields": [
                    {"name": "amount", "type": "number", "columnType": "value", "normalizationTarget": True},
                    {"name": "phase", "type": "string", "columnType": "phase:id"},
                    {"name": "currency", "type": "string", "columnType": "value-currency:code", "constant": "IRR"},
                    {"name": "direction", "type": "string", "columnType": "direction", "constant": "expenditure"},
                    {"name": "administration", "type": "string",
                     "columnType": "administrative-classification:generic:code", "constant": "behzisti"},
                    {"name": "administration_fa", "type": "string",
                     "columnType": "administrative-classification:generic:label", "constant": PUBLISHER["name_fa"]},
                ],
            },
        }],
        "model": {
            "measures": {
                "allocated": {"source": "yearly_allocation_rials", "currency": "IRR", "direction": "expenditure",
                              "phase": "approved"},
                "spent": {"source": "spent_rials", "currency": "IRR", "direction": "expenditure",
                          "phase": "executed"},
            },
            "dimensions": {
                "budget_line": {
                    "dimensionType": "classification", "classificationType": "functional",
                    "attributes": {"code": {"source": "code"},
                                   "title": {"source": "title_fa", "labelfor": "code"},
                                   "purpose": {"source": "purpose_fa"},
                                   "legal_basis": {"source": "legal_basis_fa"},
                                   "per_capita": {"source": "per_capita_rials"}},
                    "primaryKey": "code",
                },
                "fiscal_year": {"dimensionType": "datetime", "attributes": {"year": {"source": "year"}},
                                "primaryKey": "year"},
                "recipient": {
                    "dimensionType": "classification", "classificationType": "economic",
                    "attributes": {"code": {"source": "pays"}, "label": {"source": "pays_fa", "labelfor": "code"}},
                    "primaryKey": "code",
                },
            },
        },
    }


# Validation with frictionless, offline ---------------------------------------------------------------------
def profile_schema() -> dict:
    """The official compiled JSON Schema of the profile, with the one fix the module docstring explains."""
    schema = json.loads(PROFILE_PATH.read_text(encoding="utf-8"))
    profile = schema["allOf"][0]["properties"]["profile"]
    if "fiscal-data-package" not in profile["enum"]:
        profile["enum"] = [*profile["enum"], "fiscal-data-package"]
    return schema


@contextmanager
def offline_profiles() -> Iterator[None]:
    """frictionless within: the fiscal-data-package profile is read from the repository, and any other
    HTTP request fails at once instead of reaching the network."""
    import requests
    from frictionless import system
    from urllib3.response import HTTPResponse

    local = {PROFILE_URL: json.dumps(profile_schema()).encode("utf-8")}

    class LocalAdapter(requests.adapters.BaseAdapter):
        def send(self, request, **kwargs):
            body = local.get(request.url)
            if body is None:
                raise requests.ConnectionError(f"offline: no local copy of {request.url}")
            raw = HTTPResponse(body=io.BytesIO(body), status=200, preload_content=False,
                               headers={"Content-Type": "application/json", "Content-Length": str(len(body))})
            return requests.adapters.HTTPAdapter().build_response(request, raw)

        def close(self):
            pass

    session = requests.Session()
    session.mount("http://", LocalAdapter())
    session.mount("https://", LocalAdapter())
    with system.use_context(http_session=session):
        yield


def validate_package(descriptor_path: str | Path):
    """frictionless's report on the package (descriptor and data), offline: `report.valid`,
    `report.flatten(["type", "note"])` for the errors."""
    import frictionless

    with offline_profiles():
        return frictionless.validate(str(descriptor_path))
