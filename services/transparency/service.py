"""The transparency service (SPEC T), in two processes: TransparencyService answers RPCs,
TransparencyFeeds consumes events and publishes what changed. Entrypoints only translate. Publication is in
dataset_versions.py and publishing.py, units' files for datasets in submissions.py and uploads.py, reading
in browse.py, what events feed in feeds.py, a beneficiary's own payments in payment_history.py."""
from __future__ import annotations

import base64
import binascii
from datetime import datetime, timezone

from nameko.dependency_providers import Config
from nameko.timer import timer

from common import authorization, inbox
from common.config import get_settings
from common.db import Database
from common.errors import FieldError, Forbidden, InvalidRequest
from common.events import schemas as event_schemas
from common.events.catalog import (
    BUDGET_LINES_PUBLISHED, DISBURSEMENTS_PUBLISHED, DONATION_RECEIVED, PAYMENT_FAILED, STATISTICS_PUBLISHED,
)
from common.events.handler import bulk_event_handler, reliable_event_handler
from common.health import HealthRpc
from common.observability import Observability
from common.rpc import RpcProxy, rpc
from common.validation import parse
from services.transparency import browse, dataset_versions, feeds, payment_history, publishing, submissions
from services.transparency.catalog import CATALOG
from services.transparency.dependencies import SignerDependency
from services.transparency.models import inbox as inbox_table
from services.transparency.schemas import APPROVES, HANDS_IN, Correction, NationalIdIn, SessionIn, UploadNote

LOGIN_PURPOSE = "beneficiary_login"
# a national ID with no payments still costs a code check, against a mobile no one has: the answer takes
# as long and says the same as for a beneficiary who typed a wrong code
NOBODY = "09000000000"


def _now() -> datetime:
    return datetime.now(timezone.utc)


class TransparencyService(HealthRpc):
    name = "transparency"

    db = Database("transparency")
    signer = SignerDependency()
    notifications = RpcProxy("notifications")
    config = Config()
    observability = Observability()

    # publishing ------------------------------------------------------------------------------------------
    @rpc
    def publish_demo(self) -> list:
        """The demo datasets' first versions, when they have none (the local run and the tests). Never in
        production: generated data signed with the production key would be published as the organization's."""
        if get_settings().is_production:
            raise Forbidden("no_demo_in_production", "در محیط عملیاتی داده‌های نمایشی منتشر نمی‌شوند.",
                            "ENVIRONMENT=production: demo datasets are never published")
        return publishing.publish_demo(self.db, self.signer, _now())

    @rpc
    def correct(self, actor: dict, slug: str, payload: dict) -> dict:
        """A correction is a new version with the rows changed; what was published stays as it was."""
        authorization.require(actor, "admin")
        change = parse(Correction, payload)
        browse.dataset_or_404(slug)
        with self.db.begin():
            return publishing.correct(self.db, self.signer, slug, change, actor["username"], _now())

    @rpc
    def hand_in(self, actor: dict, slug: str, filename: str, content_b64: str, note: str = "") -> dict:
        """A unit's whole file for a dataset, checked line by line; with no error, it waits for approval."""
        authorization.require(actor, *HANDS_IN)
        note = parse(UploadNote, {"note": note}).note
        try:
            content = base64.b64decode(content_b64, validate=True)
        except (binascii.Error, ValueError):
            raise InvalidRequest([FieldError("file", "not_base64", "پرونده خوانده نشد.", "content is not base64")]) from None
        rows = submissions.checked(slug, content)  # before the transaction: a large file takes seconds
        with self.db.begin():
            return submissions.keep(self.db, slug, filename, rows, note, actor, _now())

    @rpc
    def uploads(self, actor: dict) -> dict:
        authorization.require(actor, *HANDS_IN, *APPROVES)
        with self.db.begin():
            return {"items": submissions.recent(self.db), "datasets": submissions.datasets()}

    @rpc
    def approve_upload(self, actor: dict, upload_id: str) -> dict:
        """Four eyes: another person than the uploader publishes the file as the dataset's next version."""
        authorization.require(actor, *APPROVES)
        with self.db.begin():
            return submissions.approve(self.db, upload_id, actor, self.signer, _now())

    # the public side (SPEC T2-T12) ------------------------------------------------------------------------
    @rpc
    def datasets(self) -> list:
        with self.db.begin():
            latest = dataset_versions.latest_of_all(self.db)
        return [publishing.summary(dataset, latest.get(slug)) for slug, dataset in CATALOG.items()]

    @rpc
    def dataset(self, slug: str) -> dict:
        dataset = browse.dataset_or_404(slug)
        with self.db.begin():
            versions = dataset_versions.versions_of(self.db, slug)
            picks = browse.choices(self.db, dataset, versions[-1]) if versions else {}
        return publishing.detail(dataset, versions, picks)

    @rpc
    def rows(self, slug: str, query: dict) -> dict:
        with self.db.begin():
            return browse.rows_page(self.db, slug, query.get("version"), query.get("q"), query.get("filters") or {},
                                    query.get("sort"), query.get("order") == "desc", query.get("after"),
                                    int(query.get("limit") or 20))

    @rpc
    def version(self, slug: str, version: int | None = None) -> dict:
        browse.dataset_or_404(slug)
        with self.db.begin():
            return dataset_versions.record_view(browse.version_or_404(self.db, slug, version))

    @rpc
    def dump_page(self, slug: str, version: int, after_n: int) -> list:
        with self.db.begin():
            return browse.dump_page(self.db, slug, version, after_n)

    @rpc
    def public_key(self) -> dict:
        key = self.signer.public_key_b64()
        with self.db.begin():
            since = dataset_versions.first_signed_with(self.db, key)
        return {"algorithm": "Ed25519", "encoding": "base64 of the raw 32-byte public key", "public_key": key,
                "in_use_since": since, "signed": "the record_sha256 of each version (its hex text, UTF-8)"}

    @rpc
    def spending(self, by: str) -> dict:
        with self.db.begin():
            return payment_history.spending(self.db, by)

    # the private side (SPEC T1) ---------------------------------------------------------------------------
    @rpc
    def request_code(self, payload: dict, client: str) -> dict:
        """Text a one-time code to the mobile on record, if this national ID has been paid. The answer is
        the same either way, and so is its time: the code is asked for without waiting."""
        national_id = parse(NationalIdIn, payload).national_id
        with self.db.begin():
            mobile = payment_history.mobile_of(self.db, national_id)
        if mobile:
            self.notifications.issue_code.call_async(mobile, LOGIN_PURPOSE, client)
        else:  # the same one publish to the broker, so that the time does not tell either
            self.notifications.health.call_async()
        return {"accepted": True}

    @rpc
    def check_code(self, payload: dict) -> dict:
        """{"verified": true, "national_id": …} for the right code in time, else {"verified": false}."""
        data = parse(SessionIn, payload)
        with self.db.begin():
            mobile = payment_history.mobile_of(self.db, data.national_id)
        verified = self.notifications.verify_code(mobile or NOBODY, LOGIN_PURPOSE, data.code)["verified"]
        return {"verified": bool(verified and mobile), "national_id": data.national_id if verified and mobile else None}

    @rpc
    def my_payments(self, actor: dict, after: str | None = None, limit: int = 20) -> dict:
        national_id = authorization.require_beneficiary(actor)
        with self.db.begin():
            return payment_history.history(self.db, national_id, after, limit)


class TransparencyFeeds:
    """What events feed and the publishing timer, in a process of their own (`transparency-feeds`): a
    payment cycle's disbursement items keep a process busy for minutes, and beneficiaries' and the
    public's RPCs answered by the same eventlet hub would wait behind each batch (docs/benchmarks.md §8).
    The same service name: its queues are named as before (evt-…--transparency.on_…)."""
    name = "transparency"

    db = Database("transparency")
    signer = SignerDependency()
    config = Config()
    observability = Observability()

    # fed by events ------------------------------------------------------------------------------------
    def _consume(self, event: dict, record) -> bool:
        event_schemas.validate(event)  # off its contract: dead-lettered at once, nothing kept
        with self.db.begin():
            if not inbox.claim(self.db, inbox_table, event):
                return False
            record(self.db, event["data"])
        return True

    @bulk_event_handler("payments", DISBURSEMENTS_PUBLISHED)
    def on_disbursements_published(self, event: dict) -> bool:
        return self._consume(event, feeds.record_disbursements)

    @reliable_event_handler("payments", PAYMENT_FAILED)
    def on_payment_failed(self, event: dict) -> bool:
        return self._consume(event, feeds.record_payment_failure)

    @reliable_event_handler("payments", DONATION_RECEIVED)
    def on_donation_received(self, event: dict) -> bool:
        return self._consume(event, feeds.record_donation)

    @reliable_event_handler("payments", BUDGET_LINES_PUBLISHED)
    def on_budget_lines_published(self, event: dict) -> bool:
        return self._consume(event, feeds.record_budget_lines)

    @reliable_event_handler("complaints", STATISTICS_PUBLISHED)
    def on_statistics_published(self, event: dict) -> bool:
        return self._consume(event, feeds.record_statistics)

    @timer(interval=get_settings().transparency_publish_seconds, eager=True)
    def publish_changed(self) -> list:
        """Event-fed datasets that changed get a new version (safe in every replica: SKIP LOCKED); in the
        demo, the demo datasets get their first version."""
        demo = self.config.get("TRANSPARENCY_DEMO_DATA", get_settings().transparency_demo_data)
        first = publishing.publish_demo(self.db, self.signer, _now()) if demo and not get_settings().is_production else []
        return first + publishing.publish_changed(self.db, self.signer, _now())


SERVICE = TransparencyService
# the processes this service runs in, by name (common/run.py)
PROCESSES = {"transparency": TransparencyService, "transparency-feeds": TransparencyFeeds}
