"""What common/validation.py tells people (issue 22): numbers in Persian messages are in Persian digits, a field
left empty is "required" (not "too short"), the national ID's message says what a valid one is; the problem's
structure (field, code, English detail) is what integrators already read."""
from __future__ import annotations

import re

import pytest
from pydantic import BaseModel, Field

from common.errors import InvalidRequest
from common.validation import REQUIRED_FA, RequiredNationalId, parse
from gateway.schemas import LoginBody
from services.complaints.schemas import CaseIntake, Note

LATIN_DIGIT = re.compile(r"[0-9]")


def errors_of(model, payload) -> dict[str, dict]:
    with pytest.raises(InvalidRequest) as raised:
        parse(model, payload)
    return {e["field"]: e for e in raised.value.errors}


def test_lengths_are_told_with_persian_digits():
    short = errors_of(CaseIntake, {"kind": "complaint", "text": "کوتاه"})["text"]
    assert short["code"] == "string_too_short"
    assert "۱۰" in short["message"] and not LATIN_DIGIT.search(short["message"])
    assert "10" in short["detail"]  # the English detail keeps its digits
    long = errors_of(CaseIntake, {"kind": "complaint", "text": "ا" * 4001})["text"]
    assert "۴۰۰۰" in long["message"] and not LATIN_DIGIT.search(long["message"])


@pytest.mark.parametrize("text", ["", "   ", "\n\t "])
def test_an_empty_text_is_required_not_too_short(text):
    error = errors_of(CaseIntake, {"kind": "complaint", "text": text})["text"]
    assert error["code"] == "missing" and error["message"] == REQUIRED_FA
    assert "کوتاه" not in error["message"]
    assert errors_of(Note, {"note": " "})["note"]["code"] == "missing"


def test_an_empty_login_names_each_field_once_as_required():
    errors = errors_of(LoginBody, {"username": "", "password": ""})
    assert set(errors) == {"username", "password"}
    assert all(e["code"] == "missing" and e["message"] == REQUIRED_FA for e in errors.values())
    absent = errors_of(LoginBody, {})
    assert set(absent) == {"username", "password"} and absent["password"]["message"] == REQUIRED_FA


def test_the_national_id_message_says_what_a_valid_one_is():
    error = errors_of(CaseIntake, {"kind": "complaint", "text": "مستمری واریز نشده است.",
                                   "national_id": "0499370898"})["national_id"]
    assert error["code"] == "invalid_national_id"
    assert error["message"].startswith("کد ملی معتبر نیست")
    assert "۱۰ رقم" in error["message"] and "رقم کنترل" in error["message"]
    assert not LATIN_DIGIT.search(error["message"])


def test_a_required_national_id_left_empty_is_required():
    class Body(BaseModel):
        national_id: RequiredNationalId

    assert errors_of(Body, {"national_id": " "})["national_id"]["message"] == REQUIRED_FA


def test_number_bounds_are_told_with_persian_digits():
    class Score(BaseModel):
        score: int = Field(ge=1, le=5)

    assert errors_of(Score, {"score": 9})["score"]["message"] == "عدد باید حداکثر ۵ باشد."
    assert errors_of(Score, {"score": 0})["score"]["message"] == "عدد باید دست‌کم ۱ باشد."
