"""The catalogue of every Shafaf dataset as DCAT-AP (2.x/3.0) in JSON-LD, for the ministry's other
transparency systems to harvest (SPEC T11).

The @context is inline (no remote context: harvesters and our tests need not reach the network), and
every property is written with its prefix and every IRI as {"@id": ...}, so the document reads the same
with or without the context's term definitions.

Per dataset: dct:title and dct:description in Persian ("fa") and the English title ("en"), dct:publisher
(a foaf:Agent), dcat:contactPoint, dct:license, dcat:theme (EU data themes), dcat:keyword, dct:issued,
dct:modified, owl:versionInfo, dct:language, dct:spatial (Iran), dct:accrualPeriodicity, and one
dcat:Distribution per format (CSV and JSON; OCDS for the contracts; the Fiscal Data Package for the
budget) with dcat:accessURL, dcat:downloadURL, dcat:mediaType (IANA) and dct:format (EU file types).
The version's content hash (`sha256` of an entry) is given as the dataset's spdx:checksum.

The document keeps DCAT-AP 3.0.1's SHACL shapes (contracts/dcat-ap: the mandatory constraints, the ranges
and the recommended ones, checked with pySHACL in tests/unit/test_transparency_formats.py). The ranges ask
that every IRI a property points at has its class; a validator would take the classes of the EU
vocabularies (media types, file types, languages, countries, themes, frequencies, access rights) from those
vocabularies, which it would have to download: the document states them itself, one small node per IRI
used, so that it validates, and is read, without the network. The one recommendation not kept is
dct:temporal: the catalogue does not know the period each version covers, and states none rather than a
made-up one.
"""
from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from services.transparency.catalog import CATALOG, LICENCE, PUBLISHER, Dataset

CONTEXT = {
    "dcat": "http://www.w3.org/ns/dcat#",
    "dct": "http://purl.org/dc/terms/",
    "foaf": "http://xmlns.com/foaf/0.1/",
    "vcard": "http://www.w3.org/2006/vcard/ns#",
    "owl": "http://www.w3.org/2002/07/owl#",
    "xsd": "http://www.w3.org/2001/XMLSchema#",
    "spdx": "http://spdx.org/rdf/terms#",
    "adms": "http://www.w3.org/ns/adms#",
    "skos": "http://www.w3.org/2004/02/skos/core#",
    "dcatap": "http://data.europa.eu/r5r/",
    "locn": "http://www.w3.org/ns/locn#",
    "gsp": "http://www.opengis.net/ont/geosparql#",
}
MEDIA_TYPE = "application/ld+json"

# Where each document is, under the gateway's base URL; "{slug}" and "{version}" are filled in.
DEFAULT_PATHS = {
    "catalog": "/api/v1/transparency/catalog.jsonld",
    "dataset": "/api/v1/transparency/datasets/{slug}",
    "csv": "/api/v1/transparency/datasets/{slug}/download.csv",
    "json": "/api/v1/transparency/datasets/{slug}/download.json",
    "ocds": "/api/v1/transparency/datasets/{slug}/ocds.json",
    "fdp": "/api/v1/transparency/datasets/{slug}/datapackage.json",
}
EXTRA_FORMATS = {"contracts": ("ocds",), "budget": ("fdp",)}

_EU = "http://publications.europa.eu/resource/authority"
_IANA = "http://www.iana.org/assignments/media-types"
# format: (Persian title, English title, IANA media type, EU file type, the standard it conforms to,
# Persian description)
FORMATS = {
    "csv": ("فایل CSV (UTF-8)", "CSV (UTF-8 with BOM)", "text/csv", "CSV", None,
            "همهٔ ردیف‌های آخرین نسخه در یک فایل CSV با کدگذاری UTF-8؛ در اکسل درست باز می‌شود."),
    "json": ("فایل JSON", "JSON", "application/json", "JSON", None,
             "همهٔ ردیف‌های آخرین نسخه با فرادادهٔ نسخه در یک فایل JSON."),
    "ocds": ("بسته انتشار OCDS نسخه ۱٫۱", "OCDS 1.1 release package", "application/json", "JSON",
             "https://standard.open-contracting.org/1.1/en/schema/release_package/",
             "قراردادها به استاندارد داده‌های باز قراردادها (OCDS ۱٫۱)، یک انتشار برای هر قرارداد."),
    "fdp": ("بسته داده مالی (Fiscal Data Package)", "Fiscal Data Package (datapackage.json)", "application/json",
            "JSON", "https://specs.frictionlessdata.io/fiscal-data-package/",
            "بودجه به استاندارد بستهٔ دادهٔ مالی (Fiscal Data Package) با نقشهٔ ستون‌ها."),
}
STABLE = f"{_EU}/planned-availability/STABLE"  # every version stays downloadable
ATTRIBUTION = "http://purl.org/adms/licencetype/Attribution"  # ADMS's licence type of CC BY
# How often each dataset changes (EU frequency authority); the others: irregularly.
FREQUENCIES = {"donations": "CONT", "payment_aggregates": "MONTHLY", "complaint_statistics": "WEEKLY",
               "financial_statements": "ANNUAL", "budget": "MONTHLY", "service_recipients": "ANNUAL",
               "license_timeliness": "ANNUAL"}
PERSIAN = f"{_EU}/language/FAS"
IRAN = f"{_EU}/country/IRN"


def _fa(text: str) -> dict:
    return {"@value": text, "@language": "fa"}


def _en(text: str) -> dict:
    return {"@value": text, "@language": "en"}


def _texts(fa: str, en: str = "") -> list[dict]:
    return [_fa(fa), _en(en)] if en else [_fa(fa)]


def _datetime(value: str) -> dict:
    return {"@value": value, "@type": "xsd:dateTime"}


def _iri(value: str) -> dict:
    return {"@id": value}


def _distribution(dataset: Dataset, fmt: str, url: str, dataset_iri: str, licence_iri: str,
                  issued: str, modified: str) -> dict:
    title_fa, title_en, media_type, file_type, standard, description_fa = FORMATS[fmt]
    node = {
        "@id": f"{dataset_iri}#distribution-{fmt}",
        "@type": "dcat:Distribution",
        "dct:title": _texts(f"{dataset.title_fa} — {title_fa}", f"{dataset.title_en} — {title_en}"
                            if dataset.title_en else ""),
        "dct:description": [_fa(description_fa)],
        "dcatap:availability": _iri(STABLE),
        "dcat:accessURL": _iri(url),
        "dcat:downloadURL": _iri(url),
        "dcat:mediaType": _iri(f"{_IANA}/{media_type}"),
        "dct:format": _iri(f"{_EU}/file-type/{file_type}"),
        "dct:license": _iri(licence_iri),
        "dct:issued": _datetime(issued),
        "dct:modified": _datetime(modified),
    }
    if standard:
        node["dct:conformsTo"] = _iri(standard)
    return node


def dcat_catalog(entries: list[dict], base_url: str, paths: Mapping[str, str] | None = None) -> dict:
    """The JSON-LD document of the catalogue. Each entry: {"dataset": Dataset, "version": int,
    "published_at": ISO 8601 date-time of this version, "sha256": hex digest of the version} and
    optionally "first_published_at" (dct:issued; else the version's date). `paths` overrides
    DEFAULT_PATHS (same keys, "{slug}" and "{version}" placeholders)."""
    base = base_url.rstrip("/")
    paths = {**DEFAULT_PATHS, **(paths or {})}

    def url(kind: str, entry: dict | None = None) -> str:
        if entry is None:
            return base + paths[kind]
        return base + paths[kind].format(slug=entry["dataset"].slug, version=entry["version"])

    publisher_iri = PUBLISHER["homepage"]
    licence_iri = LICENCE["url"]
    publisher = {
        "@id": publisher_iri,
        "@type": "foaf:Agent",
        "foaf:name": _texts(PUBLISHER["name_fa"], PUBLISHER["name_en"]),
        "foaf:homepage": _iri(PUBLISHER["homepage"]),
        "foaf:mbox": _iri(f"mailto:{PUBLISHER['email']}"),
        "dct:type": _iri("http://purl.org/adms/publishertype/NationalAuthority"),
    }
    licence = {
        "@id": licence_iri,
        "@type": "dct:LicenseDocument",
        "dct:title": _texts(LICENCE["title_fa"], LICENCE["title_en"]),
        "dct:identifier": LICENCE["id"],
        "dct:type": _iri(ATTRIBUTION),
    }
    contact = {
        "@type": ["vcard:Organization", "vcard:Kind"],
        "vcard:fn": PUBLISHER["name_fa"],
        "vcard:hasEmail": _iri(f"mailto:{PUBLISHER['email']}"),
        "vcard:hasURL": _iri(PUBLISHER["portal"]),
    }
    datasets, dates = [], []
    for entry in entries:
        dataset: Dataset = entry["dataset"]
        modified = entry["published_at"]
        issued = entry.get("first_published_at") or modified
        dates.append(modified)
        iri = url("dataset", entry)
        formats = ("csv", "json", *EXTRA_FORMATS.get(dataset.slug, ()))
        node = {
            "@id": iri,
            "@type": "dcat:Dataset",
            "dct:identifier": dataset.slug,
            "dct:title": _texts(dataset.title_fa, dataset.title_en),
            "dct:description": [_fa(dataset.description_fa)],
            "dct:publisher": _iri(publisher_iri),
            "dcat:contactPoint": dict(contact),
            "dct:license": _iri(licence_iri),
            "dct:accessRights": _iri(f"{_EU}/access-right/PUBLIC"),
            "dcat:theme": [_iri(f"{_EU}/data-theme/{dataset.theme}")],
            "dcat:keyword": [_fa(k) for k in dataset.keywords_fa] + [_en(k) for k in dataset.keywords_en],
            "dct:issued": _datetime(issued),
            "dct:modified": _datetime(modified),
            "owl:versionInfo": str(entry["version"]),
            "dct:language": _iri(PERSIAN),
            "dct:spatial": _iri(IRAN),
            "dct:accrualPeriodicity": _iri(f"{_EU}/frequency/{FREQUENCIES.get(dataset.slug, 'IRREG')}"),
            "dcat:landingPage": _iri(iri),
            "dcat:distribution": [_distribution(dataset, fmt, url(fmt, entry), iri, licence_iri, issued, modified)
                                  for fmt in formats],
        }
        if entry.get("sha256"):
            node["spdx:checksum"] = {
                "@type": "spdx:Checksum",
                "spdx:algorithm": _iri("http://spdx.org/rdf/terms#checksumAlgorithm_sha256"),
                "spdx:checksumValue": {"@value": entry["sha256"], "@type": "xsd:hexBinary"},
            }
        datasets.append(node)
    catalog = {
        "@id": url("catalog"),
        "@type": "dcat:Catalog",
        "dct:title": _texts("سامانه شفافیت سازمان بهزیستی کشور (شفاف)",
                            "Shafaf: the transparency portal of the State Welfare Organization of Iran"),
        "dct:description": _texts(
            "داده‌های باز سازمان بهزیستی کشور: املاک، قراردادها، پیمانکاران، کمک‌های مردمی، خدمت‌گیرندگان، "
            "مراکز، صورت‌های مالی، بودجه و پرداخت‌ها، معاملات، مدیران، مجوزها، استخدام، برنامه‌ها و پژوهش‌ها.",
            "Open data of the State Welfare Organization of Iran (Behzisti)."),
        "dct:publisher": _iri(publisher_iri),
        "dct:license": _iri(licence_iri),
        "dct:language": _iri(PERSIAN),
        "dct:spatial": _iri(IRAN),
        "foaf:homepage": _iri(PUBLISHER["portal"]),
        "dcat:themeTaxonomy": _iri(f"{_EU}/data-theme"),
        "dcat:dataset": datasets,
    }
    if entries:
        catalog["dct:issued"] = _datetime(min((e.get("first_published_at") or e["published_at"] for e in entries),
                                              key=lambda d: datetime.fromisoformat(d.replace("Z", "+00:00"))))
    if dates:
        catalog["dct:modified"] = _datetime(max(dates, key=lambda d: datetime.fromisoformat(d.replace("Z", "+00:00"))))
    return {"@context": dict(CONTEXT), "@graph": [catalog, publisher, licence, *_classes_of_what_is_pointed_at(
        [catalog, publisher, licence, *datasets])]}


# The class DCAT-AP's ranges ask of what each property points at (contracts/dcat-ap/range.ttl).
RANGES = {
    "dcat:mediaType": "dct:MediaType", "dct:format": "dct:MediaTypeOrExtent", "dct:language": "dct:LinguisticSystem",
    "dct:spatial": "dct:Location", "dcat:theme": "skos:Concept", "dct:accrualPeriodicity": "dct:Frequency",
    "dct:accessRights": "dct:RightsStatement", "dcat:landingPage": "foaf:Document", "foaf:homepage": "foaf:Document",
    "dct:conformsTo": "dct:Standard", "dct:type": "skos:Concept", "dcat:themeTaxonomy": "skos:ConceptScheme",
    "dcatap:availability": "skos:Concept",
}


# What DCAT-AP's shapes ask of those nodes beside their class: a concept's label, a scheme's title (the EU
# vocabularies' own English labels), a place's bounding box and centre.
LABELS = {
    f"{_EU}/data-theme/GOVE": "Government and public sector", f"{_EU}/data-theme/ECON": "Economy and finance",
    f"{_EU}/data-theme/EDUC": "Education, culture and sport", f"{_EU}/data-theme/SOCI": "Population and society",
    f"{_EU}/data-theme/HEAL": "Health", f"{_EU}/data-theme/TECH": "Science and technology",
    f"{_EU}/data-theme/REGI": "Regions and cities", STABLE: "Stable",
    "http://purl.org/adms/publishertype/NationalAuthority": "National authority", ATTRIBUTION: "Attribution",
}
TITLES = {f"{_EU}/data-theme": "Data theme"}
PLACES = {IRAN: ("POLYGON((44.03 25.06, 63.33 25.06, 63.33 39.78, 44.03 39.78, 44.03 25.06))", "POINT(53.69 32.43)")}


def _classes_of_what_is_pointed_at(nodes: list[dict]) -> list[dict]:
    """A node with its class for every IRI a property of RANGES points at in `nodes` and their distributions."""
    typed: dict[str, str] = {}
    for node in nodes:
        for part in (node, *node.get("dcat:distribution", ())):
            for prop, cls in RANGES.items():
                values = part.get(prop)
                for value in values if isinstance(values, list) else [values]:
                    if isinstance(value, dict) and "@id" in value:
                        typed[value["@id"]] = cls
    described = []
    for iri, cls in typed.items():
        node = {"@id": iri, "@type": cls}
        if cls == "skos:Concept":
            node["skos:prefLabel"] = _en(LABELS[iri])
        if cls == "skos:ConceptScheme":
            node["dct:title"] = _en(TITLES[iri])
        if iri in PLACES:
            box, centre = PLACES[iri]
            node["dcat:bbox"] = {"@value": box, "@type": "gsp:wktLiteral"}
            node["dcat:centroid"] = {"@value": centre, "@type": "gsp:wktLiteral"}
        described.append(node)
    return described


def catalog_entries(versions: Mapping[str, dict]) -> list[dict]:
    """Entries for dcat_catalog from {slug: {"version", "published_at", "sha256"}}, in catalogue order,
    leaving out datasets with no published version yet."""
    return [{"dataset": dataset, **versions[slug]} for slug, dataset in CATALOG.items() if slug in versions]
