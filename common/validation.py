"""Pydantic's errors, told in Persian: one FieldError per field at fault.

The Persian messages are for people: numbers in them are written with Persian digits, a field left empty
(absent, or only blanks) is told it is required, never that it is "too short", and each message says what
a valid value is. The codes, the field names and the English details stay as they are, for programs."""
from __future__ import annotations

import re
from typing import Annotated, Callable

import unicodedata

from pydantic import AfterValidator, BaseModel, BeforeValidator, Field, ValidationError, WithJsonSchema
from pydantic_core import PydanticCustomError

from common.errors import FieldError, InvalidRequest
from common.identifiers import InvalidIdentifier, normalise_mobile, normalise_national_id
from common.text import normalise_digits, persian_digits

REQUIRED_FA = "این مورد الزامی است و خالی مانده است؛ آن را وارد کنید."
_MESSAGES_FA = {
    "missing": REQUIRED_FA,
    "string_too_short": "متن کوتاه‌تر از حد مجاز است (دست‌کم {min_length} نویسه).",
    "string_too_long": "متن بلندتر از حد مجاز است (حداکثر {max_length} نویسه).",
    "string_type": "مقدار این فیلد باید متن باشد.",
    "int_type": "مقدار این فیلد باید عدد صحیح باشد.",
    "int_parsing": "مقدار این فیلد باید عدد صحیح باشد.",
    "greater_than_equal": "عدد باید دست‌کم {ge} باشد.",
    "less_than_equal": "عدد باید حداکثر {le} باشد.",
    "string_unicode": "متن نویسه‌های نامعتبر دارد.",
    "literal_error": "مقدار این فیلد مجاز نیست؛ یکی از این‌ها را بفرستید: {expected}.",
    "enum": "مقدار این فیلد مجاز نیست؛ یکی از این‌ها را بفرستید: {expected}.",
    "extra_forbidden": "این فیلد شناخته‌شده نیست.",
    "model_type": "بدنهٔ درخواست باید یک شیء JSON باشد.",
    "dict_type": "بدنهٔ درخواست باید یک شیء JSON باشد.",
}
_DEFAULT_FA = "مقدار این فیلد معتبر نیست."


def _blank(value) -> bool:
    return isinstance(value, str) and not value.strip()


def field_errors(exc: ValidationError) -> list[FieldError]:
    errors = []
    for err in exc.errors(include_url=False):
        field = ".".join(str(p) for p in err["loc"]) or "body"
        code = err["type"]
        ctx = err.get("ctx") or {}
        if code == "string_too_short" and _blank(err.get("input")):
            code = "missing"  # an empty text is a missing one: "required", not "too short"
        if code in _MESSAGES_FA:
            numbers = {k: persian_digits(ctx.get(k, "")) for k in ("min_length", "max_length", "ge", "le")}
            message = _MESSAGES_FA[code].format(**numbers, expected=ctx.get("expected", ""))
        elif isinstance(ctx.get("message_fa"), str):
            message = ctx["message_fa"]
        else:
            message = _DEFAULT_FA
        detail = ctx.get("detail") or err["msg"]
        errors.append(FieldError(field, code, message, str(detail)))
    return errors


def parse(model: type[BaseModel], data) -> BaseModel:
    """Validate `data` into `model` or raise InvalidRequest naming every field at fault."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise InvalidRequest(field_errors(exc)) from None


def identifier_error(exc: InvalidIdentifier) -> PydanticCustomError:
    """For field validators: turn an identifier's error into one pydantic reports with its Persian
    message (read back by field_errors)."""
    return PydanticCustomError(exc.code, exc.detail, {"message_fa": exc.message_fa, "detail": exc.detail})


def _identifier(normalise: Callable[[str], str], required: bool = False):
    def check(value):
        if value is None or (isinstance(value, str) and not value.strip()):
            if required:
                raise PydanticCustomError("missing", "a value is required",
                                          {"message_fa": REQUIRED_FA, "detail": "a value is required"})
            return None
        try:
            return normalise(str(value))
        except InvalidIdentifier as exc:
            raise identifier_error(exc) from None
    return BeforeValidator(check)


def _documented(fmt: str, example: str) -> WithJsonSchema:
    """An OpenAPI string format of our own (`ir-mobile`, …): a check digit is more than a pattern can
    say, so the format names the rule; tests teach schemathesis to generate valid values."""
    return WithJsonSchema({"anyOf": [{"type": "string", "format": fmt, "examples": [example]}, {"type": "null"}]})


# Fields that accept what people type and hold the canonical form (None when left empty).
Mobile = Annotated[str | None, _identifier(normalise_mobile), _documented("ir-mobile", "09121234567")]
NationalId = Annotated[str | None, _identifier(normalise_national_id),
                       _documented("ir-national-id", "0499370899")]


# The same, where the identifier must be given: an empty string is refused, not taken for None.
RequiredNationalId = Annotated[str, _identifier(normalise_national_id, required=True),
                               WithJsonSchema({"type": "string", "format": "ir-national-id",
                                               "examples": ["0499370899"]})]
RequiredMobileNumber = Annotated[str, _identifier(normalise_mobile, required=True),
                                 WithJsonSchema({"type": "string", "format": "ir-mobile",
                                                 "examples": ["09121234567"]})]

# A one-time code as people type it (notifications issues them; transparency and the gateway take them back).
CODE_LENGTH = 6
CODE_SEPARATORS = r"[ \u200c-]"  # what people put between digits: spaces, dashes, ZWNJ
# the same rule for Python and for the OpenAPI document (ECMA regex): ASCII, Persian or Arabic digits
CODE_PATTERN = rf"^{CODE_SEPARATORS}*(?:[0-9\u06f0-\u06f9\u0660-\u0669]{CODE_SEPARATORS}*){{{CODE_LENGTH}}}$"


def _code(value):
    """Six digits as people type them: Persian or Arabic digits, spaces, dashes and ZWNJ accepted."""
    if not isinstance(value, str):
        raise PydanticCustomError("string_type", "the code is a string of six digits")
    if not re.fullmatch(CODE_PATTERN, value):
        raise PydanticCustomError("invalid_code_format", "the code is six digits",
                                  {"message_fa": "کد تأیید باید ۶ رقم باشد.", "detail": "the code is six digits"})
    return re.sub(CODE_SEPARATORS, "", normalise_digits(value))


OneTimeCodeText = Annotated[str, BeforeValidator(_code),
                            WithJsonSchema({"type": "string", "minLength": 6, "maxLength": 32, "pattern": CODE_PATTERN,
                                            "description": "six digits; Persian digits, spaces and dashes accepted",
                                            "examples": ["482917"]})]


def _printable(value):
    """Free text may hold any language and line breaks, never control characters (NUL would reach
    PostgreSQL) or lone surrogates (not UTF-8)."""
    if isinstance(value, str):
        for ch in value:
            if ch not in "\n\r\t" and unicodedata.category(ch) in ("Cc", "Cs"):
                raise PydanticCustomError(
                    "invalid_characters", "text holds control characters or invalid Unicode",
                    {"message_fa": "متن نویسه‌های نامعتبر دارد.",
                     "detail": f"text holds U+{ord(ch):04X}, a control character or lone surrogate"})
    return value


Printable = AfterValidator(_printable)
_CONTROLS = "\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F"
# The same rule told to the OpenAPI document (line breaks and tabs allowed; C0, DEL and C1 not).
PrintableInSchema = Field(json_schema_extra={"pattern": f"^[^{_CONTROLS}]*$"})
_BLANKS = " \t\n\r"


NO_LETTERS_FA = "متن باید دست‌کم یک حرف یا رقم داشته باشد؛ فقط نشانه‌هایی مانند «...» یا «؟!» پذیرفته نیست."


def has_letter_or_digit(value: str) -> bool:
    """A letter or a digit of any script (Unicode L* or N*): «؟؟؟...!!!» says nothing."""
    return any(unicodedata.category(ch)[0] in "LN" for ch in value)


def FreeText(min_visible: int, max_length: int):
    """Text as people write it, in any language, with line breaks: at least `min_visible`
    characters other than spaces and line breaks, at most `max_length` in all, no control
    characters, and at least one letter or digit (not punctuation alone); stored without the blanks
    around it. The pattern says the first three to the OpenAPI document (JSON Schema's patterns have
    no Unicode classes for the last)."""
    def check(value: str) -> str:
        _printable(value)
        if not value.strip(_BLANKS):
            raise PydanticCustomError("missing", "a value is required", {"message_fa": REQUIRED_FA,
                                                                         "detail": "a value is required"})
        if sum(ch not in _BLANKS for ch in value) < min_visible:
            raise PydanticCustomError("string_too_short", f"text needs at least {min_visible} visible characters",
                                      {"min_length": min_visible})
        if not has_letter_or_digit(value):
            raise PydanticCustomError("no_letters", "text needs a letter or a digit",
                                      {"message_fa": NO_LETTERS_FA, "detail": "text holds no letter or digit "
                                                                               "(only punctuation or symbols)"})
        return value.strip(_BLANKS)

    pattern = f"^[ \\t\\n\\r]*(?:[^ \\t\\n\\r{_CONTROLS}][ \\t\\n\\r]*){{{min_visible},}}$"
    return Annotated[str, Field(max_length=max_length, json_schema_extra={"pattern": pattern}),
                     AfterValidator(check)]
