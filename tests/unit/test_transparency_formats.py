"""The Shafaf downloads in the formats integrators read (issue 8): CSV that Excel opens in Persian, JSON,
contracts as OCDS 1.1 (validated against the official schemas), the budget as a Fiscal Data Package
(validated by frictionless) and the catalogue as DCAT-AP JSON-LD (parsed as RDF, and checked with pySHACL
against DCAT-AP 3.0.1's official shapes). Everything offline,
and the CSV of the 22,000 contracts streams in little memory."""
import csv
import io
import itertools
import json
import socket
import time
import tracemalloc

import pytest

from common.budget_lines import BUDGET_LINES
from common.config import PROJECT_ROOT
from services.transparency.catalog import CATALOG, Column, Dataset
from services.transparency.demo_data import demo_rows
from services.transparency.event_rows import budget_rows
from services.transparency.formats.csv_stream import BOM, csv_chunks
from services.transparency.formats.dcat import dcat_catalog
from services.transparency.formats.fiscal import fiscal_datapackage, validate_package
from services.transparency.formats.json_stream import json_chunks
from services.transparency.formats.ocds import OCID_PREFIX, ocds_release_package_chunks, release_validator, validator

PUBLISHED_AT = "2026-11-21T10:00:00+03:30"
OCDS_META = {"uri": "https://shafaf.behzisti.example/api/v1/transparency/datasets/contracts/ocds.json",
             "published_at": PUBLISHED_AT, "version": 4}


@pytest.fixture(autouse=True)
def offline(monkeypatch):
    """No test here may reach the network: schemas and contexts are in the repository."""
    def refuse(*args, **kwargs):
        raise OSError("network access in a unit test")

    monkeypatch.setattr(socket.socket, "connect", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)
    monkeypatch.setattr(socket, "getaddrinfo", refuse)


TOY = Dataset(
    slug="toy", title_fa="آزمایشی", description_fa="داده آزمایشی", spec="T2", theme="GOVE", key="code",
    source="demo",
    columns=(Column("code", "کد", "string"), Column("name", "نام", "string"), Column("count", "تعداد", "integer"),
             Column("share", "سهم", "number", nullable=True), Column("open", "باز", "boolean"),
             Column("day", "روز", "date", nullable=True)),
)


# CSV -----------------------------------------------------------------------------------------------------
def test_csv_starts_with_the_bom_and_round_trips_persian_text():
    rows = list(itertools.islice(demo_rows("properties"), 300))
    data = b"".join(csv_chunks(CATALOG["properties"], rows))
    assert data.startswith(BOM) and data.count(BOM) == 1
    text = data.decode("utf-8-sig")
    assert text.split("\r\n", 1)[0] == ",".join(CATALOG["properties"].column_names)
    read = list(csv.DictReader(io.StringIO(text, newline="")))
    assert len(read) == 300
    for row, back in zip(rows, read, strict=True):
        assert back["title"] == row["title"] and back["address"] == row["address"]
        assert back["province_fa"] == row["province_fa"] and "،" in back["address"]
        assert back["has_title_deed"] == ("true" if row["has_title_deed"] else "false")
        assert back["construction_year"] == ("" if row["construction_year"] is None else str(row["construction_year"]))


def test_csv_quotes_as_rfc_4180_and_defuses_formulas():
    rows = [{"code": "a1", "name": 'شرکت «نمونه»، با "نقل قول"\nو خط دوم', "count": 3, "share": 0.5, "open": True,
             "day": "2026-11-21"},
            {"code": "a2", "name": "=HYPERLINK(\"http://x\")", "count": -4, "share": None, "open": False, "day": None,
             "national_id": "0499370899"}]
    data = b"".join(csv_chunks(TOY, rows))
    text = data.decode("utf-8-sig")
    assert text.endswith("\r\n") and "0499370899" not in text
    back = list(csv.DictReader(io.StringIO(text, newline="")))
    assert back[0] == {"code": "a1", "name": rows[0]["name"], "count": "3", "share": "0.5", "open": "true",
                       "day": "2026-11-21"}
    assert back[1]["name"] == "'" + rows[1]["name"] and back[1]["count"] == "-4"
    assert back[1]["share"] == "" and back[1]["day"] == ""
    assert list(back[0]) == list(TOY.column_names)


def test_csv_of_no_rows_is_the_bom_and_the_header():
    assert b"".join(csv_chunks(TOY, [])) == BOM + b"code,name,count,share,open,day\r\n"


def test_the_csv_of_22000_contracts_streams_in_little_memory():
    dataset = CATALOG["contracts"]
    sum(1 for _ in csv_chunks(dataset, itertools.islice(demo_rows("contracts"), 50)))  # warm the caches
    tracemalloc.start()
    try:
        started = time.perf_counter()
        size = lines = chunks = biggest = 0
        for chunk in csv_chunks(dataset, demo_rows("contracts")):
            size += len(chunk)
            lines += chunk.count(b"\r\n")
            chunks += 1
            biggest = max(biggest, len(chunk))
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    print(f"CSV of 22,000 contracts: {size / 1e6:.1f} MB in {chunks} chunks, "
          f"{time.perf_counter() - started:.1f} s under tracemalloc, peak {peak / 1e6:.2f} MB")
    assert lines == 22_001  # no line break inside a contract's cells
    assert size > 8_000_000 and chunks > 100 and biggest < 80 * 1024
    assert peak < 10 * 1024 * 1024


# JSON ----------------------------------------------------------------------------------------------------
def test_json_chunks_parse_and_carry_the_metadata_and_only_the_columns():
    from datetime import datetime, timezone

    from services.transparency.catalog import describe

    meta = describe(CATALOG["contracts"], version=2, published_at=datetime(2026, 11, 21, tzinfo=timezone.utc))
    rows = ({**row, "national_id": "0499370899"} for row in itertools.islice(demo_rows("contracts"), 3_000))
    chunks = list(json_chunks(CATALOG["contracts"], rows, meta))
    data = b"".join(chunks)
    assert len(chunks) > 3 and b"0499370899" not in data and "قرارداد".encode() in data
    document = json.loads(data)
    assert document["dataset"]["version"] == 2 and document["dataset"]["title_fa"] == CATALOG["contracts"].title_fa
    assert len(document["rows"]) == 3_000
    assert list(document["rows"][0]) == list(CATALOG["contracts"].column_names)
    assert document["rows"][0] == next(demo_rows("contracts"))
    assert json.loads(b"".join(json_chunks(TOY, [], {"slug": "toy"}))) == {"dataset": {"slug": "toy"}, "rows": []}


# OCDS ----------------------------------------------------------------------------------------------------
def _package(count=None) -> dict:
    rows = demo_rows("contracts") if count is None else itertools.islice(demo_rows("contracts"), count)
    return json.loads(b"".join(ocds_release_package_chunks(rows, OCDS_META)))


def test_an_ocds_package_of_500_contracts_validates_with_jsonschema_and_formats():
    """jsonschema (Draft 4, formats checked) on the official schemas; 500 contracts, because the package's
    `uniqueItems` makes jsonschema compare every pair of releases (22,000 take minutes; the next test
    validates all of them with jsonschema_rs)."""
    package = _package(500)
    errors = [f"{list(e.absolute_path)}: {e.message}" for e in validator().iter_errors(package)]
    assert errors == []
    release = package["releases"][0]
    assert release["ocid"].startswith(OCID_PREFIX + "-") and release["tag"] == ["contract"]
    assert release["language"] == "fa" and release["date"] == PUBLISHED_AT
    roles = {role for party in release["parties"] for role in party["roles"]}
    assert {"buyer", "supplier"} <= roles
    money = [r for r in package["releases"] if "value" in r["contracts"][0]]
    assert money and all(r["contracts"][0]["value"]["currency"] == "IRR" and
                         r["awards"][0]["value"] == r["contracts"][0]["value"] for r in money)
    assert package["version"] == "1.1" and package["publishedDate"] == PUBLISHED_AT


def test_the_validator_rejects_what_the_standard_forbids():
    package = _package(3)
    bad = json.loads(json.dumps(package))
    bad["releases"][0]["date"] = "21 Aban 1405"
    bad["releases"][1]["tag"] = ["signed"]
    bad["releases"][2]["contracts"][0]["value"]["currency"] = "TOMAN"
    bad["uri"] = "not a uri"
    messages = " | ".join(e.message for e in validator().iter_errors(bad))
    assert "is not a 'date-time'" in messages and "'signed' is not one of" in messages
    assert "'TOMAN' is not one of" in messages and "is not a 'uri'" in messages


def test_the_ocds_package_of_all_22000_contracts_validates_against_the_official_schema():
    import jsonschema_rs

    from services.transparency.formats.ocds import OCDS_SCHEMA_DIR

    package_schema = json.loads((OCDS_SCHEMA_DIR / "release-package-schema.json").read_text(encoding="utf-8"))
    release_schema = json.loads((OCDS_SCHEMA_DIR / "release-schema.json").read_text(encoding="utf-8"))

    def no_network(uri):
        raise AssertionError(f"the schema asked for {uri}")

    registry = jsonschema_rs.Registry([(s["id"], s) for s in (package_schema, release_schema)])
    checker = jsonschema_rs.Draft4Validator(package_schema, validate_formats=True, registry=registry,
                                            retriever=no_network)
    started = time.perf_counter()
    package = _package()
    built = time.perf_counter()
    errors = [e.message[:200] for e in itertools.islice(checker.iter_errors(package), 10)]
    print(f"OCDS package of 22,000 contracts: built and parsed in {built - started:.1f} s, "
          f"validated in {time.perf_counter() - built:.1f} s")
    assert errors == []
    assert len(package["releases"]) == 22_000
    assert len({r["ocid"] for r in package["releases"]}) == 22_000
    assert not checker.is_valid({**package, "releases": package["releases"][:1] * 2})  # uniqueItems
    sample = package["releases"][::97]  # and jsonschema itself, release by release, on a sample
    assert [e.message for r in sample for e in release_validator().iter_errors(r)] == []


def test_ocdskit_reads_the_release_package_and_compiles_records_that_keep_the_official_record_schema(tmp_path):
    """The OCDS tools as a data user would run them (`ocdskit detect-format`, `ocdskit compile --package`): the
    release package is recognised as one, and its releases merge into one record per contract whose compiled
    release, and the record package, keep the official schemas."""
    from ocdskit.combine import merge
    from ocdskit.util import detect_format

    from services.transparency.formats.ocds import OCDS_SCHEMA_DIR, record_package_validator

    package = _package(300)
    (tmp_path / "ocds.json").write_text(json.dumps(package, ensure_ascii=False), encoding="utf-8")
    assert detect_format(str(tmp_path / "ocds.json"))[0] == "release package"
    schema = json.loads((OCDS_SCHEMA_DIR / "release-schema.json").read_text(encoding="utf-8"))
    [records] = merge([package], uri="https://shafaf.behzisti.example/records.json", published_date=PUBLISHED_AT,
                      schema=schema, return_package=True)
    records = json.loads(json.dumps(records))  # ocdskit's ordered dicts and generators, as a file would hold them
    assert [f"{list(e.absolute_path)}: {e.message}" for e in record_package_validator().iter_errors(records)] == []
    assert len(records["records"]) == 300 == len({r["ocid"] for r in records["records"]})
    first = next(r for r in records["records"] if r["ocid"] == package["releases"][0]["ocid"])
    assert first["compiledRelease"]["tag"] == ["compiled"]
    assert first["compiledRelease"]["contracts"] == package["releases"][0]["contracts"]
    broken = {**records, "records": [{**first, "compiledRelease": {**first["compiledRelease"], "date": "1405"}}]}
    assert any("is not a 'date-time'" in e.message for e in record_package_validator().iter_errors(broken))


# Fiscal Data Package -------------------------------------------------------------------------------------
def test_the_budget_fiscal_data_package_validates_with_frictionless(tmp_path):
    rows = list(budget_rows(1405, BUDGET_LINES, {"pension_disability": 120_000_000_000, "child_support": 9_000_000_000}))
    (tmp_path / "budget.csv").write_bytes(b"".join(csv_chunks(CATALOG["budget"], rows)))
    descriptor = fiscal_datapackage(rows, {"version": 2, "published_at": PUBLISHED_AT}, "budget.csv")
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    report = validate_package(tmp_path / "datapackage.json")
    assert report.flatten(["type", "note"]) == [] and report.valid
    assert report.tasks[0].stats["rows"] == 16 and report.tasks[0].stats["fields"] == len(CATALOG["budget"].columns)

    assert descriptor["profile"] == "fiscal-data-package"
    assert descriptor["fiscalPeriod"] == {"start": "2026-03-21", "end": "2027-03-20"}  # 1405
    fields = {f["name"]: f for f in descriptor["resources"][0]["schema"]["fields"]}
    assert fields["year"]["columnType"] == "date:fiscal-year"
    assert fields["code"]["columnType"] == "functional-classification:generic:code"
    assert fields["spent_rials"]["normalize"] == {"phase": "executed"}
    extra = {f["columnType"]: f for f in descriptor["resources"][0]["schema"]["extraFields"]}
    assert extra["value"]["normalizationTarget"] and extra["value-currency:code"]["constant"] == "IRR"
    assert extra["administrative-classification:generic:code"]["constant"] == "behzisti"
    assert descriptor["model"]["measures"]["spent"] == {"source": "spent_rials", "currency": "IRR",
                                                         "direction": "expenditure", "phase": "executed"}


def test_the_budget_before_payments_announced_its_lines_is_an_empty_package_of_no_year(tmp_path):
    (tmp_path / "budget.csv").write_bytes(b"".join(csv_chunks(CATALOG["budget"], [])))
    descriptor = fiscal_datapackage([], {"version": 1, "published_at": PUBLISHED_AT}, "budget.csv")
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    report = validate_package(tmp_path / "datapackage.json")
    assert report.flatten(["type", "note"]) == [] and report.valid and not report.tasks[0].stats.get("rows")
    assert descriptor["name"] == "behzisti-budget" and "fiscalPeriod" not in descriptor


def test_frictionless_finds_a_broken_fiscal_package(tmp_path):
    rows = list(budget_rows(1405, BUDGET_LINES))
    (tmp_path / "budget.csv").write_bytes(b"".join(csv_chunks(CATALOG["budget"], rows)).replace(b",0\r\n", b",none\r\n", 1))
    descriptor = fiscal_datapackage(rows, {"version": 1, "published_at": PUBLISHED_AT}, "budget.csv")
    del descriptor["model"]["measures"]["spent"]["currency"]
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    report = validate_package(tmp_path / "datapackage.json")
    assert not report.valid
    assert "'currency' is a required property" in str(report.flatten(["note"]))
    descriptor = fiscal_datapackage(rows, {"version": 1, "published_at": PUBLISHED_AT}, "budget.csv")
    (tmp_path / "datapackage.json").write_text(json.dumps(descriptor, ensure_ascii=False), encoding="utf-8")
    assert [e[0] for e in validate_package(tmp_path / "datapackage.json").flatten(["type"])] == ["type-error"]


# DCAT-AP -------------------------------------------------------------------------------------------------
def _entries():
    return [{"dataset": dataset, "version": i + 1, "published_at": PUBLISHED_AT, "sha256": f"{i:064x}"}
            for i, dataset in enumerate(CATALOG.values())]


def test_the_dcat_catalogue_parses_as_rdf_with_every_dataset_and_its_distributions():
    from rdflib import Graph, Literal, URIRef
    from rdflib.namespace import DCAT, DCTERMS, FOAF, OWL, RDF, XSD

    document = dcat_catalog(_entries(), "https://shafaf.behzisti.example/")
    assert isinstance(document["@context"], dict)  # inline: nothing to fetch
    graph = Graph().parse(data=json.dumps(document, ensure_ascii=False), format="json-ld")

    found = graph.query("""
        SELECT ?dataset (SAMPLE(?title) AS ?fa) (COUNT(DISTINCT ?distribution) AS ?n) WHERE {
            ?catalog a dcat:Catalog ; dcat:dataset ?dataset .
            ?dataset a dcat:Dataset ; dct:title ?title ; dcat:distribution ?distribution .
            FILTER (lang(?title) = "fa")
            ?distribution a dcat:Distribution ; dcat:downloadURL ?url ; dcat:accessURL ?access ;
                          dcat:mediaType ?type ; dct:format ?format .
        } GROUP BY ?dataset""", initNs={"dcat": DCAT, "dct": DCTERMS})
    by_iri = {str(row.dataset): (str(row.fa), int(row.n)) for row in found}
    base = "https://shafaf.behzisti.example/api/v1/transparency/datasets/"
    assert set(by_iri) == {base + slug for slug in CATALOG}
    for slug, dataset in CATALOG.items():
        assert by_iri[base + slug][0] == dataset.title_fa
        assert by_iri[base + slug][1] == {"contracts": 3, "budget": 3}.get(slug, 2)

    contracts = URIRef(base + "contracts")
    assert (contracts, OWL.versionInfo, Literal("2")) in graph
    assert (contracts, DCTERMS.issued, Literal(PUBLISHED_AT, datatype=XSD.dateTime)) in graph
    assert (contracts, DCTERMS.license, URIRef("https://creativecommons.org/licenses/by/4.0/")) in graph
    assert (contracts, DCAT.theme, URIRef("http://publications.europa.eu/resource/authority/data-theme/GOVE")) in graph
    publisher = graph.value(contracts, DCTERMS.publisher)
    assert (publisher, RDF.type, FOAF.Agent) in graph
    assert Literal("سازمان بهزیستی کشور", lang="fa") in set(graph.objects(publisher, FOAF.name))
    ocds = URIRef(base + "contracts#distribution-ocds")
    assert (ocds, DCAT.downloadURL, URIRef(base + "contracts/ocds.json")) in graph
    assert (ocds, DCAT.mediaType, URIRef("http://www.iana.org/assignments/media-types/application/json")) in graph
    assert (URIRef(base + "budget#distribution-fdp"), DCTERMS.conformsTo,
            URIRef("https://specs.frictionlessdata.io/fiscal-data-package/")) in graph
    csv_distribution = URIRef(base + "properties#distribution-csv")
    assert (csv_distribution, DCAT.mediaType, URIRef("http://www.iana.org/assignments/media-types/text/csv")) in graph
    assert (csv_distribution, DCTERMS.format,
            URIRef("http://publications.europa.eu/resource/authority/file-type/CSV")) in graph


DCAT_AP_SHAPES = PROJECT_ROOT / "contracts" / "dcat-ap"


def _shacl(document: dict, shapes: str) -> list[tuple[str, str, str]]:
    """(severity, focus node, path) of each result pySHACL finds in `document` against one shapes file."""
    from pyshacl import validate
    from rdflib import Graph, Namespace

    sh = Namespace("http://www.w3.org/ns/shacl#")
    data = Graph().parse(data=json.dumps(document, ensure_ascii=False), format="json-ld")
    _, report, _ = validate(data, shacl_graph=Graph().parse(DCAT_AP_SHAPES / shapes), inference="none")
    return sorted((str(report.value(r, sh.resultSeverity)).rsplit("#", 1)[1], str(report.value(r, sh.focusNode)),
                   str(report.value(r, sh.resultPath))) for r in report.subjects(sh.resultSeverity, None))


def test_the_dcat_catalogue_keeps_the_official_dcat_ap_shapes_mandatory_ranges_and_recommended():
    document = dcat_catalog(_entries(), "https://shafaf.behzisti.example/")
    assert _shacl(document, "shapes.ttl") == []
    assert _shacl(document, "range.ttl") == []
    recommended = _shacl(document, "shapes_recommended.ttl")
    # all but the period each dataset covers, which the catalogue does not know (contracts/dcat-ap/README.md)
    assert {(severity, path) for severity, _, path in recommended} == {("Warning", "http://purl.org/dc/terms/temporal")}
    assert len(recommended) == len(CATALOG)


def test_the_dcat_ap_shapes_find_what_a_broken_catalogue_leaves_out():
    document = dcat_catalog(_entries()[:1], "https://shafaf.behzisti.example/")
    catalog, _publisher, *rest = document["@graph"]
    del catalog["dct:title"]  # mandatory
    del catalog["dcat:dataset"][0]["dct:description"]  # mandatory
    catalog["dcat:dataset"][0]["dcat:distribution"][0]["dcat:mediaType"] = {"@id": "https://example.org/not-typed"}
    found = {(severity, path.rsplit("/", 1)[1]) for severity, _, path in _shacl(document, "shapes.ttl")}
    assert found == {("Violation", "title"), ("Violation", "description")}
    assert [(s, p.rsplit("#", 1)[1]) for s, _, p in _shacl(document, "range.ttl")] == [("Violation", "mediaType")]


def test_the_dcat_urls_follow_the_paths_given():
    document = dcat_catalog(_entries()[:1], "https://x.example",
                            paths={"csv": "/d/{slug}/v{version}.csv", "dataset": "/d/{slug}"})
    dataset = document["@graph"][0]["dcat:dataset"][0]
    urls = [d["dcat:downloadURL"]["@id"] for d in dataset["dcat:distribution"]]
    assert urls[0] == "https://x.example/d/properties/v1.csv" and dataset["@id"] == "https://x.example/d/properties"
