"""complaints' published contract: all a caller (the gateway) imports from this service. Its typed RPC client
(`ComplaintsClient`: one method per RPC method of service.py, with its signature), the request and answer models
(`schemas`, each also by name below), the role sets its routes check (`org`), and what a partner app may send.
tests/unit/test_import_contracts.py fails on any other import across the boundary (import-linter,
pyproject.toml)."""
from services.complaints import org, schemas
from services.complaints.client import ComplaintsClient
from services.complaints.domain import PARTNER_APP_KINDS
from services.complaints.schemas import (
    ADDRESS_MAX, LAT_RANGE, LONG_RANGE, MEDIA_URL_MAX, REPORTER_CODE_SENT_FA, Answer, CallerCaseView, CartablePage,
    CaseIntake, CaseView, Category, CitizenCaseIntake, FileView, Kind, Note, OutageIntake, OutageList, OutageView,
    Rating, Referral, RegisteredCase, ReportAgain, ReporterCodeAccepted, ReporterCodeRequest, ReporterIdentityViewList,
    ReporterSession, ReporterSessionRequest, RequiredNote, StaffCaseIntake, StaffCasePage, StaffCaseView,
    SweepFailureList, SweepFailureView, Urgency,
)

__all__ = [
    "ComplaintsClient", "org", "schemas", "PARTNER_APP_KINDS", "ADDRESS_MAX", "LAT_RANGE", "LONG_RANGE",
    "MEDIA_URL_MAX", "REPORTER_CODE_SENT_FA", "Answer", "CallerCaseView", "CartablePage", "CaseIntake", "CaseView",
    "Category", "CitizenCaseIntake", "FileView", "Kind", "Note", "OutageIntake", "OutageList", "OutageView",
    "Rating", "Referral", "RegisteredCase", "ReportAgain", "ReporterCodeAccepted", "ReporterCodeRequest",
    "ReporterIdentityViewList", "ReporterSession", "ReporterSessionRequest", "RequiredNote", "StaffCaseIntake",
    "StaffCasePage", "StaffCaseView", "SweepFailureList", "SweepFailureView", "Urgency",
]
