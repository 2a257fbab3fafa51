"""The national participation portal for donors (SPEC P5, P6): the purposes one may give to, start a donation
(then pay at the payment gateway), the gateway's callback, the receipt, and the public dataset of donations."""
from __future__ import annotations

from flask import jsonify, redirect, request, url_for
from flask_openapi3 import APIBlueprint, Tag
from pydantic import Field

from gateway.auth import accepts_form
from gateway.protection import idempotency
from gateway.schemas import IdempotencyHeader, Problem, RequestPart
from gateway.services import payments
from services.payments.api import (
    CallbackForm, DonationIn, DonationPurposes, DonationReceipt, DonationsDataset, DonationStarted,
)

bp = APIBlueprint("donations", __name__, url_prefix="/api/v1/donations",
                  abp_tags=[Tag(name="donations", description="the participation portal: donate, get a receipt")])

ERRORS = {400: Problem, 403: Problem, 404: Problem, 409: Problem, 422: Problem, 429: Problem, 503: Problem,
          504: Problem}


class DonationPath(RequestPart):
    donation_id: str = Field(pattern=r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")



@bp.get("/purposes", responses={200: DonationPurposes, 503: Problem, 504: Problem})
def purposes():
    """What one may give to: the budget lines, the published campaigns open today (with what they raised),
    and the provinces."""
    return jsonify(payments().donation_purposes())


@bp.post("", responses={201: DonationStarted, **ERRORS})
def start(body: DonationIn, header: IdempotencyHeader):
    """Start a donation to a province and a purpose, as a person or from a company's social-responsibility fund
    (then name and 11-digit national ID are needed). Send the donor's browser to `redirect_url` to pay; the
    payment gateway brings it back to the callback. Send an Idempotency-Key: a retry pays nothing twice."""
    started = payments().start_donation(body.model_dump(mode="json", exclude_none=True), idempotency(header))
    response = jsonify(started)
    response.status_code = 201
    response.headers["Location"] = url_for("donations.receipt", donation_id=started["id"])
    return response


RECEIPT_PAGE = "/web/donate/receipt.html"


@bp.post("/callback", responses={200: DonationReceipt, 303: {"description": "a browser (Accept: text/html) is "
                                                                           "sent on to the receipt page"}, **ERRORS})
@accepts_form
def callback(form: CallbackForm):
    """Where the payment gateway sends the donor's browser back (a form post). Only a callback signed by the
    gateway, for a donation still waiting, for its exact amount, never seen before and verified by the gateway
    records the donation as paid; any other is refused and changes nothing. A browser is sent on (303) to the
    receipt page; other clients get the receipt as JSON."""
    receipt = payments().donation_callback(form.model_dump())
    if request.accept_mimetypes.best_match(["application/json", "text/html"]) == "text/html":
        return redirect(f"{RECEIPT_PAGE}?id={receipt['id']}", code=303)
    return jsonify(receipt)


@bp.get("/<donation_id>/receipt", responses={200: DonationReceipt, 400: Problem, 404: Problem, 503: Problem,
                                             504: Problem})
def receipt(path: DonationPath):
    """A donation's receipt: its number, amount, province and purpose, the gateway's reference, and the Jalali
    date it was paid."""
    return jsonify(payments().donation_receipt(path.donation_id))


@bp.get("/dataset", responses={200: DonationsDataset, 503: Problem, 504: Problem})
def dataset():
    """Paid donations for the transparency portal: companies by name and national ID, people never named."""
    return jsonify(payments().donations_dataset())
