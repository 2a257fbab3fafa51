"""Donations on the national participation portal (SPEC P5, P6), on a session the caller owns.

A donor chooses a province and a purpose (a budget line, or a published campaign open today) and pays through
the payment gateway (psp.py): we ask for a token, the donor's browser pays at the gateway's page, and the gateway
posts the outcome back to our callback. A callback counts only when it carries the gateway's signature, is for a
donation still waiting, for its exact amount, with a reference never seen before, and the gateway then verifies
it; otherwise nothing is recorded and the answer says why. A verified donation is settled, marked paid, posted
to the ledger and announced (donation.received, through the outbox) in one transaction.

Companies give from their social-responsibility funds (60% of 1% of their profits, SPEC P6) as a donation source
of their own, with the company's name and 11-digit national ID.

Ledger accounts (ledger.py has the others):
    psp_receivable                  verified at the gateway, not yet settled into our account
    bank                            settled into the organization's account
    donations:<province>:<purpose>  what donors gave to a province and purpose (<purpose> is line.<code> or
                                    campaign.<code>)
"""
from __future__ import annotations

import logging
import secrets
import uuid
from contextlib import contextmanager
from datetime import date, datetime, timedelta, timezone

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from common import outbox
from common.errors import Conflict, FieldError, Forbidden, InvalidRequest, NotFound
from common.events.catalog import DONATION_RECEIVED
from common.events.envelope import new_event
from common.identifiers import luhn_check_digit, luhn_valid, mask_mobile
from common.jalali import TEHRAN, day_text, iso, stamp, to_jalali
from common.reference_data import PROVINCES
from common.budget_lines import LINES_BY_CODE
from services.payments.donation_schemas import DonationIn
from services.payments.ledger import Posting
from services.payments.ledger_store import post
from services.payments.models import Campaign, Donation
from services.payments.models import outbox as outbox_table
from services.payments.psp import PspError, VerifyFailed

_log = logging.getLogger(__name__)

EVENT_NAMESPACE = uuid.UUID("0b5e9d52-7c1a-4f3e-8d2b-14051405d0a7")
STATUS_FA = {"started": "در انتظار پرداخت", "paid": "پرداخت شد", "failed": "پرداخت نشد"}
CALLBACK_PATH = "/api/v1/donations/callback"

DEMO_CAMPAIGNS = [
    {"code": "winter_warmth_1405", "title_fa": "پویش گرمای زمستان برای خانواده‌های مددجو", "province": None,
     "goal_rials": 50_000_000_000, "opens": date(2026, 3, 21), "closes": date(2028, 3, 19), "published": True},
    {"code": "bushehr_rehab_centers", "title_fa": "تجهیز مراکز توان‌بخشی استان بوشهر", "province": "bushehr",
     "goal_rials": 20_000_000_000, "opens": date(2026, 3, 21), "closes": date(2028, 3, 19), "published": True},
    {"code": "sistan_village_nurseries", "title_fa": "مهدکودک‌های روستایی سیستان و بلوچستان",
     "province": "sistan_baluchestan", "goal_rials": 30_000_000_000, "opens": date(2026, 3, 21),
     "closes": date(2028, 3, 19), "published": True},
]


def now_utc() -> datetime:
    return datetime.now(timezone.utc)


def today_tehran() -> date:
    return now_utc().astimezone(TEHRAN).date()


# receipt numbers -------------------------------------------------------------------------------------------
def new_receipt_number() -> str:
    """12 digits a person can read out on the phone: 11 random (the first not 0), then a Luhn check digit."""
    body = str(1 + secrets.randbelow(9)) + f"{secrets.randbelow(10**10):010d}"
    return body + luhn_check_digit(body)


def is_receipt_number(value: str) -> bool:
    return isinstance(value, str) and len(value) == 12 and value.isdigit() and value[0] != "0" and luhn_valid(value)


# the ledger ------------------------------------------------------------------------------------------------
def purpose_account(province: str, purpose_kind: str, purpose_code: str) -> str:
    return f"donations:{province}:{purpose_kind}.{purpose_code}"


def received(donation_id: str, account: str, amount: int) -> Posting:
    """Verified at the gateway: the gateway owes it to us, given to the province and purpose."""
    return Posting(f"donation:{donation_id}", (("psp_receivable", amount), (account, -amount)))


def settled(donation_id: str, amount: int) -> Posting:
    """Settled by the gateway into the organization's account."""
    return Posting(f"donation-settle:{donation_id}", (("bank", amount), ("psp_receivable", -amount)))


# campaigns and purposes ------------------------------------------------------------------------------------
def load_campaigns(session: Session, campaigns: list[dict] = DEMO_CAMPAIGNS) -> int:
    from sqlalchemy.dialects.postgresql import insert

    for row in campaigns:
        session.execute(insert(Campaign).values(**row).on_conflict_do_update(
            index_elements=["code"], set_={k: v for k, v in row.items() if k != "code"}))
    return len(campaigns)


def _open_campaign(session: Session, code: str, province: str, today: date) -> Campaign:
    campaign = session.get(Campaign, code)
    if campaign is None or not campaign.published or not campaign.opens <= today <= campaign.closes:
        raise NotFound("campaign_not_found", "چنین پویش منتشرشده و بازی نیست (purpose.code).",
                       f"purpose.code: no published campaign {code} open on {today.isoformat()}")
    if campaign.province not in (None, province):
        raise Conflict("campaign_of_another_province",
                       f"این پویش برای استان {PROVINCES[campaign.province]} است؛ همان استان را برگزینید (province).",
                       f"province: campaign {code} is for {campaign.province}, not {province}")
    return campaign


def purpose_title(session: Session, kind: str, code: str) -> str:
    if kind == "line":
        line = LINES_BY_CODE.get(code)
        return line["title_fa"] if line else code
    campaign = session.get(Campaign, code)
    return campaign.title_fa if campaign else code


def _check(session: Session, data: DonationIn, today: date) -> None:
    errors = []
    if data.donor_kind == "company":
        if not data.company_national_id:
            errors.append(FieldError("company_national_id", "missing", "شناسهٔ ملی شرکت لازم است.",
                                     "a company's donation needs its 11-digit national ID"))
        if not data.donor_name:
            errors.append(FieldError("donor_name", "missing", "نام شرکت لازم است.",
                                     "a company's donation needs the company's name"))
    elif data.company_national_id:
        errors.append(FieldError("company_national_id", "not_a_company", "شناسهٔ ملی فقط برای کمک شرکت‌هاست.",
                                 "a person's donation has no company national ID; send donor_kind company"))
    if errors:
        raise InvalidRequest(errors)
    if data.purpose.kind == "campaign":
        _open_campaign(session, data.purpose.code, data.province, today)


# the flow --------------------------------------------------------------------------------------------------
def start(session: Session, data: DonationIn, ipg, callback_url: str, today: date | None = None) -> dict:
    """A donation waiting for its payment, and the gateway page where the donor pays it."""
    _check(session, data, today or today_tehran())
    donation = Donation(id=str(uuid.uuid4()), receipt_number=new_receipt_number(), donor_kind=data.donor_kind,
                        donor_name=data.donor_name, company_national_id=data.company_national_id,
                        mobile=data.mobile, province=data.province, purpose_kind=data.purpose.kind,
                        purpose_code=data.purpose.code, amount_rials=data.amount_rials, status="started")
    try:
        answer = ipg.request_token(data.amount_rials, donation.receipt_number, callback_url)
    except PspError as exc:
        _log.warning("the payment gateway refused a token: %s", exc.message)
        raise Conflict("psp_unavailable", "درگاه پرداخت اکنون در دسترس نیست؛ کمی بعد دوباره تلاش کنید.",
                       exc.message) from None
    donation.token = answer["token"]
    session.add(donation)
    session.flush()
    return {"id": donation.id, "receipt_number": donation.receipt_number, "status": donation.status,
            "amount_rials": donation.amount_rials, "redirect_url": answer["redirect_url"]}


def _refuse(code: str, message: str, detail: str, forged: bool = False):
    _log.warning("donation callback refused: %s: %s", code, detail)
    return (Forbidden if forged else Conflict)(code, message, detail)


def callback(session: Session, fields: dict, ipg) -> dict:
    """The gateway's callback through the donor's browser: the receipt of a donation paid now (or failed at the
    gateway), or an error after which nothing has changed."""
    fields = {k: str(v) for k, v in fields.items() if v is not None}
    if not ipg.callback_is_signed(fields):
        raise _refuse("callback_forged", "این پاسخ از درگاه پرداخت نیست.",
                      "the callback does not carry the gateway's signature", forged=True)
    donation = session.scalars(select(Donation).where(Donation.token == fields.get("token")).with_for_update()).first()
    if donation is None or fields.get("order_id") != donation.receipt_number:
        raise NotFound("donation_not_found", "چنین کمکی نیست.", "no donation has this token and order id")
    reference = fields.get("reference") or ""
    seen = reference and session.scalar(select(Donation.id).where(Donation.psp_reference == reference))
    if donation.status != "started" or seen:
        raise _refuse("callback_replayed", "این پرداخت پیش‌تر ثبت شده است؛ رسید آن را ببینید.",
                      f"donation {donation.id} is {donation.status}; reference {reference or '-'} seen before")
    if fields.get("status") != "OK":
        donation.status = "failed"
        return receipt_view(session, donation)
    if fields.get("amount") != str(donation.amount_rials):
        raise _refuse("amount_mismatch", "مبلغ پرداخت‌شده با مبلغ کمک یکی نیست.",
                      f"the callback says {fields.get('amount')} rials, the donation is {donation.amount_rials}")
    try:
        verified = ipg.verify(donation.token, donation.amount_rials)
    except VerifyFailed as exc:
        raise _refuse("payment_not_verified", "درگاه پرداخت این پرداخت را تأیید نکرد؛ مبلغی از حساب شما کسر "
                      "نشده یا ظرف ۷۲ ساعت بازمی‌گردد.", exc.message) from None
    except PspError as exc:
        raise _refuse("psp_unavailable", "درگاه پرداخت اکنون در دسترس نیست؛ کمی بعد دوباره تلاش کنید.",
                      exc.message) from None
    if verified["reference"] != reference:
        raise _refuse("callback_forged", "این پاسخ از درگاه پرداخت نیست.",
                      f"the gateway verified reference {verified['reference']}, the callback says {reference}",
                      forged=True)
    _record_paid(session, donation, reference, verified.get("card_masked"))
    settle(session, donation, ipg)
    return receipt_view(session, donation)


def _record_paid(session: Session, donation: Donation, reference: str, card_masked: str | None) -> None:
    """A payment the gateway verified: the donation paid, posted to the ledger and announced, once (the caller
    holds the donation's row lock and saw it still started)."""
    donation.status, donation.psp_reference, donation.paid_at = "paid", reference, now_utc()
    donation.card_masked = card_masked
    post(session, received(donation.id, purpose_account(donation.province, donation.purpose_kind,
                                                        donation.purpose_code), donation.amount_rials))
    _announce(session, donation)
    session.flush()


def settle(session: Session, donation: Donation, ipg) -> bool:
    """Ask the gateway to settle a verified donation; the ledger moves it to the bank. A gateway that cannot
    settle now leaves it receivable (settle_pending tries again)."""
    if donation.status != "paid" or donation.settled_at is not None:
        return False
    try:
        ipg.settle(donation.psp_reference)
    except PspError as exc:
        _log.warning("donation %s not settled yet: %s", donation.id, exc.message)
        return False
    post(session, settled(donation.id, donation.amount_rials))
    donation.settled_at = now_utc()
    return True


def settle_pending(session: Session, ipg, limit: int = 100) -> int:
    """Verified donations not yet settled, settled now (an operator's button; the timer does it too). Runs
    its own short transactions: no call to the gateway inside one (see _settle_claimed)."""
    with session.begin():
        waiting = list(session.scalars(select(Donation.id).where(Donation.status == "paid",
                                                                 Donation.settled_at.is_(None))
                                       .order_by(Donation.paid_at).limit(limit)))
    with _claims(session) as claims:
        return sum(_settle_claimed(session, ipg, claims, donation_id) for donation_id in waiting)


# What the timer of every replica retries (service.retry_donations): donations left behind past a few minutes.
STALE_AFTER = timedelta(minutes=5)  # the donor's callback, or the settlement right after it, has had its chance
VERIFY_WITHIN = timedelta(hours=1)  # a gateway reverses a payment never verified long before that


def retry_pending(session: Session, ipg, now: datetime | None = None, limit: int = 50) -> dict:
    """Donations left behind, tried again; safe in every replica at once (each donation claimed by one replica
    with an advisory lock; the ledger posts each cause once):

    * paid (verified) for more than STALE_AFTER but not settled (the gateway could not settle then): settled now;
    * started more than STALE_AFTER ago and never paid here (the donor's browser never came back from the gateway,
      or the gateway could not verify then): the gateway is asked to verify it, by its token and exact amount, as
      a callback would have. Verified: recorded, announced and settled as the callback does (a late callback is
      then a replay and records nothing). Not paid at the gateway: left as it is, and no longer asked after
      VERIFY_WITHIN.

    No call to the gateway is made inside a transaction: each donation is read, asked about with no lock or
    transaction held (its claim is a session-level advisory lock), and its answer recorded in a short transaction
    that re-reads the row under its lock first (a donor's callback that got there in between wins). Runs its own
    transactions: call it outside one.
    """
    now = now or now_utc()
    stale = now - STALE_AFTER
    with session.begin():
        unsettled = list(session.scalars(
            select(Donation.id).where(Donation.status == "paid", Donation.settled_at.is_(None),
                                      Donation.paid_at <= stale)
            .order_by(Donation.paid_at).limit(limit).with_for_update(skip_locked=True)))
        unverified = session.execute(
            select(Donation.id, Donation.token, Donation.amount_rials)
            .where(Donation.status == "started", Donation.token.is_not(None),
                   Donation.created_at <= stale, Donation.created_at > now - VERIFY_WITHIN)
            .order_by(Donation.created_at).limit(limit).with_for_update(skip_locked=True)).all()
    verified = settled = 0
    with _claims(session) as claims:
        settled += sum(_settle_claimed(session, ipg, claims, donation_id) for donation_id in unsettled)
        for donation_id, token, amount in unverified:
            if not _claim(claims, donation_id):
                continue  # another replica has it now
            try:
                if _verify_and_record(session, ipg, donation_id, token, amount):
                    verified += 1
                    settled += _settle(session, ipg, donation_id)
            finally:
                _release(claims, donation_id)
    if settled or verified:
        _log.info("donations retried: %d verified, %d settled", verified, settled)
    return {"verified": verified, "settled": settled}


def _verify_and_record(session: Session, ipg, donation_id: str, token: str, amount: int) -> bool:
    try:
        answer = ipg.verify(token, amount)  # outside any transaction
    except PspError as exc:  # not paid (yet), or the gateway cannot say now: asked again on the next tick
        _log.info("donation %s not verified: %s", donation_id, exc.message)
        return False
    with session.begin():
        donation = session.get(Donation, donation_id, with_for_update=True, populate_existing=True)
        if donation.status != "started":
            return False  # the donor's callback recorded it meanwhile
        if session.scalar(select(Donation.id).where(Donation.psp_reference == answer["reference"])):
            _log.error("donation %s: the gateway verified reference %s, which another donation has", donation_id,
                       answer["reference"])
            return False
        _record_paid(session, donation, answer["reference"], answer.get("card_masked"))
    return True


def _settle_claimed(session: Session, ipg, claims, donation_id: str) -> bool:
    if not _claim(claims, donation_id):
        return False
    try:
        return _settle(session, ipg, donation_id)
    finally:
        _release(claims, donation_id)


def _settle(session: Session, ipg, donation_id: str) -> bool:
    """Settle a verified donation at the gateway (no transaction open during the call), then record it once."""
    with session.begin():
        donation = session.get(Donation, donation_id, populate_existing=True)
        if donation is None or donation.status != "paid" or donation.settled_at is not None:
            return False
        reference = donation.psp_reference
    try:
        ipg.settle(reference)  # the gateway settles a reference once; asking again is harmless
    except PspError as exc:
        _log.warning("donation %s not settled yet: %s", donation_id, exc.message)
        return False
    with session.begin():
        donation = session.get(Donation, donation_id, with_for_update=True, populate_existing=True)
        if donation.settled_at is not None:
            return False  # settled meanwhile by the donor's callback or an operator
        post(session, settled(donation.id, donation.amount_rials))
        donation.settled_at = now_utc()
    return True


# A claim on a donation while the gateway is asked about it: a session-level advisory lock on a connection of
# its own (no transaction, no row lock held across the call), released when the work on it is done.
_CLAIM = "SELECT pg_try_advisory_lock(hashtext('donations.retry'), hashtext(:id))"
_RELEASE = "SELECT pg_advisory_unlock(hashtext('donations.retry'), hashtext(:id))"


@contextmanager
def _claims(session: Session):
    conn = session.get_bind().connect().execution_options(isolation_level="AUTOCOMMIT")
    try:
        yield conn
    finally:
        try:
            conn.execute(text("SELECT pg_advisory_unlock_all()"))
        finally:
            conn.close()


def _claim(claims, donation_id: str) -> bool:
    return bool(claims.execute(text(_CLAIM), {"id": donation_id}).scalar())


def _release(claims, donation_id: str) -> None:
    claims.execute(text(_RELEASE), {"id": donation_id})


def _announce(session: Session, donation: Donation) -> None:
    data = {"donation_id": donation.id, "receipt_number": donation.receipt_number, "donor_kind": donation.donor_kind,
            "province": donation.province, "province_fa": PROVINCES[donation.province],
            "purpose_kind": donation.purpose_kind, "purpose_code": donation.purpose_code,
            "purpose_fa": purpose_title(session, donation.purpose_kind, donation.purpose_code),
            "amount_rials": donation.amount_rials, "psp_reference": donation.psp_reference,
            "paid_at": iso(donation.paid_at), "paid_at_fa": to_jalali(donation.paid_at)}
    if donation.donor_kind == "company":
        data.update(company_name=donation.donor_name, company_national_id=donation.company_national_id)
    if donation.mobile:
        data["mobile"] = donation.mobile  # for the SMS receipt
    event_id = str(uuid.uuid5(EVENT_NAMESPACE, f"{DONATION_RECEIVED.name}:{donation.id}"))
    outbox.add(session, outbox_table, new_event(DONATION_RECEIVED, data, subject=donation.receipt_number,
                                                event_id=event_id))


# what donors and the public see ----------------------------------------------------------------------------
def receipt_view(session: Session, donation: Donation) -> dict:
    return {"id": donation.id, "receipt_number": donation.receipt_number, "status": donation.status,
            "status_fa": STATUS_FA[donation.status], "donor_kind": donation.donor_kind,
            "donor_name": donation.donor_name, "company_national_id": donation.company_national_id,
            "mobile_masked": mask_mobile(donation.mobile) if donation.mobile else None,
            "province": donation.province, "province_fa": PROVINCES[donation.province],
            "purpose": {"kind": donation.purpose_kind, "code": donation.purpose_code,
                        "title_fa": purpose_title(session, donation.purpose_kind, donation.purpose_code)},
            "amount_rials": donation.amount_rials, "psp_reference": donation.psp_reference,
            "card_masked": donation.card_masked, "created_at": stamp(donation.created_at),
            "paid_at": stamp(donation.paid_at) if donation.paid_at else None}


def receipt(session: Session, donation_id: str) -> dict:
    try:
        uuid.UUID(donation_id)
    except (ValueError, TypeError, AttributeError):
        donation = None
    else:
        donation = session.get(Donation, donation_id)
    if donation is None:
        raise NotFound("donation_not_found", "چنین کمکی نیست.", f"no donation {donation_id}")
    return receipt_view(session, donation)


def purposes(session: Session, today: date | None = None) -> dict:
    today = today or today_tehran()
    raised = dict(session.execute(select(Donation.purpose_code, func.sum(Donation.amount_rials)).where(
        Donation.status == "paid", Donation.purpose_kind == "campaign").group_by(Donation.purpose_code)).all())
    campaigns = session.scalars(select(Campaign).where(Campaign.published.is_(True), Campaign.opens <= today,
                                                       Campaign.closes >= today).order_by(Campaign.code))
    return {"lines": [{"code": code, "title_fa": line["title_fa"]} for code, line in LINES_BY_CODE.items()],
            "campaigns": [{"code": c.code, "title_fa": c.title_fa, "province": c.province, "goal_rials": c.goal_rials,
                           "raised_rials": int(raised.get(c.code) or 0), "opens": day_text(c.opens),
                           "closes": day_text(c.closes)} for c in campaigns],
            "provinces": dict(PROVINCES)}


def dataset(session: Session, limit: int = 1000) -> dict:
    """Paid donations for the transparency portal: a company's name and national ID, never a person's name or
    mobile."""
    rows = session.scalars(select(Donation).where(Donation.status == "paid").order_by(Donation.paid_at.desc())
                           .limit(limit)).all()
    items = [{"receipt_number": d.receipt_number, "paid_at": iso(d.paid_at), "province": d.province,
              "purpose_kind": d.purpose_kind, "purpose_code": d.purpose_code, "amount_rials": d.amount_rials,
              "donor_kind": d.donor_kind,
              "company_name": d.donor_name if d.donor_kind == "company" else None,
              "company_national_id": d.company_national_id if d.donor_kind == "company" else None} for d in rows]
    total = session.scalar(select(func.coalesce(func.sum(Donation.amount_rials), 0))
                           .where(Donation.status == "paid"))
    return {"items": items, "total_rials": int(total)}
