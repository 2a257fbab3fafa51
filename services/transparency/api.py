"""transparency's published contract: all a caller (the gateway) imports from this service. Its typed RPC client
(`TransparencyClient`: one method per RPC method of service.py, with its signature), the request and answer models
(`schemas`, each also by name below), who hands in and approves datasets, the catalogue of datasets, and the
encoders of the public formats the gateway streams page by page (CSV, JSON, DCAT-AP, the Fiscal Data Package,
OCDS). tests/unit/test_import_contracts.py fails on any other import across the boundary (import-linter,
pyproject.toml)."""
from services.transparency import schemas
from services.transparency.catalog import CATALOG, describe
from services.transparency.formats.csv_stream import csv_chunks
from services.transparency.formats.dcat import dcat_catalog
from services.transparency.formats.fiscal import fiscal_datapackage
from services.transparency.formats.json_stream import json_chunks
from services.transparency.formats.ocds import ocds_release_package_chunks
from services.transparency.client import TransparencyClient
from services.transparency.schemas import (
    APPROVES, HANDS_IN, MAX_SEARCH_TERMS, MIN_TERM_LETTERS, ApprovedUpload, BeneficiarySession, CodeAccepted, Correction,
    DatasetDetail, DatasetList, MyPayments, NationalIdIn, PublicKey, RowPage, SessionIn, Spending, UploadList,
    UploadView, VersionRecord, search_terms,
)

__all__ = [
    "TransparencyClient", "schemas", "CATALOG", "describe", "csv_chunks", "dcat_catalog", "fiscal_datapackage",
    "json_chunks", "ocds_release_package_chunks", "APPROVES", "HANDS_IN", "MAX_SEARCH_TERMS", "MIN_TERM_LETTERS",
    "ApprovedUpload", "BeneficiarySession", "CodeAccepted", "Correction", "DatasetDetail", "DatasetList",
    "MyPayments", "NationalIdIn", "PublicKey", "RowPage", "SessionIn", "Spending", "UploadList", "UploadView",
    "VersionRecord", "search_terms",
]
