"""Contracts as an Open Contracting Data Standard (OCDS) 1.1 release package, streamed.

One release per contract, agreement or memorandum, tagged "contract": the buyer (the organization's unit
that signed) and the supplier (the counterparty) as parties, the tender's procurement method, one award
and one contract with their value in IRR, dates and status. Release language "fa".

The ocid prefix `ocds-ir8bhz` is a DEMO prefix, not one registered with the Open Contracting Partnership:
a real publisher asks the OCP for its own prefix and sets it in OCID_PREFIX.

The official OCDS 1.1.5 schemas are in contracts/ocds/ (see its README). `validator()` checks a package
against them offline: the package schema's reference to the release schema by URL is resolved from the
local copy, and the "date-time" and "uri" formats are checked (jsonschema checks neither on its own
without optional packages).
"""
from __future__ import annotations

import json
import re
from collections.abc import Iterable, Iterator
from datetime import date, datetime
from functools import lru_cache
from urllib.parse import urlsplit

from common.config import PROJECT_ROOT
from common.jalali import TEHRAN
from services.transparency.catalog import LICENCE, PUBLISHER
from services.transparency.formats.values import in_chunks

OCDS_VERSION = "1.1"
OCDS_SCHEMA_DIR = PROJECT_ROOT / "contracts" / "ocds"
OCID_PREFIX = "ocds-ir8bhz"  # demo prefix: not registered with the Open Contracting Partnership
MEDIA_TYPE = "application/json"
CHUNK_BYTES = 64 * 1024
COUNTRY_FA = "ایران"

# The dataset's codes -> the OCDS 1.1 closed codelists.
PROCUREMENT_METHODS = {"tender_public": "open", "tender_limited": "selective", "inquiry": "limited",
                       "exemption": "direct", "negotiated": "direct"}  # "none" (a memorandum): no method
CONTRACT_STATUSES = {"pending": "pending", "active": "active", "completed": "terminated", "terminated": "terminated"}
CATEGORIES = {"works": "works", "goods": "goods", "services": "services"}


def ocid(contract_number: str) -> str:
    return f"{OCID_PREFIX}-{contract_number}"


def _moment(day: str) -> str:
    """An ISO date as the start of that day in Tehran, with its offset (+03:30, or +04:30 in the summers
    before 1401)."""
    return datetime.combine(date.fromisoformat(day), datetime.min.time(), TEHRAN).isoformat()


def _buyer_id(unit: str) -> str:
    return f"IR-BHZ-{unit}"


def contract_release(row: dict, *, published_at: str, version: int = 1) -> dict:
    """The OCDS release of one row of the contracts dataset. `published_at` (ISO 8601 date-time) is the
    release date; `version` the dataset version, so a corrected contract is a new release."""
    number = row["contract_number"]
    buyer = {"id": _buyer_id(row["buyer_unit"]), "name": row["buyer_unit_fa"]}
    supplier = {"id": row["contractor_id"], "name": row["contractor_name"]}
    region = {"region": row["province_fa"], "countryName": COUNTRY_FA}
    signed = _moment(row["signed_on"])
    value = {"amount": row["amount_rials"], "currency": "IRR"} if row["amount_rials"] else None
    tender = {"id": f"{number}-tender", "title": row["title"], "status": "complete", "procuringEntity": buyer,
              "mainProcurementCategory": CATEGORIES[row["category"]],
              "procurementMethodDetails": row["procurement_method_fa"]}
    method = PROCUREMENT_METHODS.get(row["procurement_method"])
    if method:
        tender["procurementMethod"] = method
    award = {"id": f"{number}-award", "title": row["title"], "status": "active", "date": signed,
             "suppliers": [supplier]}
    contract = {"id": number, "awardID": award["id"], "title": row["title"],
                "description": f"{row['kind_fa']}؛ وضعیت: {row['status_fa']}",
                "status": CONTRACT_STATUSES[row["status"]], "dateSigned": signed,
                "period": {"startDate": _moment(row["start_date"]), "endDate": _moment(row["end_date"])}}
    if value:
        award["value"] = dict(value)
        contract["value"] = dict(value)
    return {
        "ocid": ocid(number),
        "id": f"{number}-contract-{version}",
        "date": published_at,
        "tag": ["contract"],
        "initiationType": "tender",
        "language": "fa",
        "parties": [
            {**buyer, "roles": ["buyer", "procuringEntity"], "address": region},
            {**supplier, "roles": ["supplier"]},
        ],
        "buyer": buyer,
        "tender": tender,
        "awards": [award],
        "contracts": [contract],
    }


def _dumps(value) -> str:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def ocds_release_package_chunks(rows: Iterable[dict], meta: dict, chunk_bytes: int = CHUNK_BYTES) -> Iterator[bytes]:
    """The release package of the contracts rows. `meta`: "uri" (this package's URL, required),
    "published_at" (ISO 8601 date-time with offset, required), "version" (the dataset version, default 1),
    "publication_policy" (a URL, optional). The releases are streamed; the package needs at least one."""
    published_at, version = meta["published_at"], int(meta.get("version", 1))
    head = {
        "uri": meta["uri"],
        "version": OCDS_VERSION,
        "publishedDate": published_at,
        "publisher": {"name": PUBLISHER["name_fa"], "uri": PUBLISHER["homepage"]},
        "license": LICENCE["url"],
    }
    if meta.get("publication_policy"):
        head["publicationPolicy"] = meta["publication_policy"]
    def pieces() -> Iterator[bytes]:
        yield (_dumps(head)[:-1] + ',"releases":[').encode("utf-8")
        separator = ""
        for row in rows:
            yield (separator + _dumps(contract_release(row, published_at=published_at, version=version))).encode("utf-8")
            separator = ","
        yield b"]}"

    return in_chunks(pieces(), chunk_bytes)


# Validation against the official schemas, offline ---------------------------------------------------------
_DATE_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}[Tt ]\d{2}:\d{2}:\d{2}(\.\d+)?([Zz]|[+-]\d{2}:\d{2})$")
_SCHEME = re.compile(r"^[A-Za-z][A-Za-z0-9+.-]*$")


def _is_date_time(value) -> bool:
    """RFC 3339 date-time (with its offset)."""
    if not isinstance(value, str):
        return True
    if not _DATE_TIME.match(value):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        return False
    return True


def _is_uri(value) -> bool:
    """An absolute URI (RFC 3986): a scheme, then no spaces."""
    if not isinstance(value, str):
        return True
    parts = urlsplit(value)
    return bool(parts.scheme) and bool(_SCHEME.match(parts.scheme)) and not re.search(r"\s", value) \
        and bool(parts.netloc or parts.path)


@lru_cache(maxsize=1)
def _schemas():
    """(release package schema, registry holding the schemas under their URLs, format checker)."""
    from jsonschema import Draft4Validator, FormatChecker
    from referencing import Registry, Resource
    from referencing.jsonschema import DRAFT4

    schemas = {name: json.loads((OCDS_SCHEMA_DIR / name).read_text(encoding="utf-8"))
               for name in ("release-package-schema.json", "release-schema.json", "record-package-schema.json")}
    registry = Registry().with_resources(
        (schema["id"], Resource.from_contents(schema, default_specification=DRAFT4)) for schema in schemas.values())
    checker = FormatChecker(formats=())
    for name, check in Draft4Validator.FORMAT_CHECKER.checkers.items():
        checker.checkers[name] = check
    checker.checks("date-time")(_is_date_time)
    checker.checks("uri")(_is_uri)
    return schemas["release-package-schema.json"], registry, checker


def validator():
    """A jsonschema Draft 4 validator of release packages against the official schemas, offline: the
    release schema is resolved from contracts/ocds/ and the formats are checked."""
    from jsonschema import Draft4Validator

    package, registry, checker = _schemas()
    Draft4Validator.check_schema(package)
    return Draft4Validator(package, registry=registry, format_checker=checker)


def record_package_validator():
    """The same checks for a record package (releases compiled per ocid: what OCDS tools such as ocdskit make of
    the release package), against the official record package schema. A record package with versioned
    releases would need the versioned release schema, which contracts/ocds/ does not hold."""
    from jsonschema import Draft4Validator

    _, registry, checker = _schemas()
    schema = registry.contents("https://standard.open-contracting.org/schema/1__1__5/record-package-schema.json")
    return Draft4Validator(schema, registry=registry, format_checker=checker)


def release_validator():
    """The same checks for one release (an item of the package's `releases`): much faster per release
    than the whole package, whose `uniqueItems` makes jsonschema compare every pair of releases."""
    from jsonschema import Draft4Validator

    package, registry, checker = _schemas()
    return Draft4Validator({"$ref": package["properties"]["releases"]["items"]["$ref"]},
                           registry=registry, format_checker=checker)
