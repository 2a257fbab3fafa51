"""Reading a request body: JSON only, an object, within the size limit; anything else is a 400
problem naming what is wrong."""
from __future__ import annotations

from flask import request
from werkzeug.exceptions import BadRequest

from common.errors import FieldError
from gateway.problems import invalid


def json_object() -> dict:
    if not request.is_json:
        raise invalid([FieldError(
            "Content-Type", "unsupported_content_type",
            "بدنهٔ درخواست باید JSON باشد (Content-Type: application/json).",
            f"expected application/json, got {request.content_type or 'nothing'}")])
    try:
        body = request.get_json(force=False, silent=False)
    except BadRequest:
        raise invalid([FieldError("body", "malformed_json", "بدنهٔ درخواست JSON درستی نیست.",
                                  "the body is not well-formed JSON")]) from None
    if not isinstance(body, dict):
        raise invalid([FieldError("body", "model_type", "بدنهٔ درخواست باید یک شیء JSON باشد.",
                                  "the body must be a JSON object")])
    return body
