"""The pages' Persian names of codes (web/assets/js/names-fa.js, read through format.js nameOf) cover every code
the API sends for the enums they show, with the API's own Persian names where the server has them."""
from __future__ import annotations

import json
import re

from common.config import PROJECT_ROOT
from services.complaints.domain import CHANNELS, KINDS, STAGES, URGENCIES
from services.complaints.org import ROLES
from services.transparency.catalog import TYPES

NAMES_JS = PROJECT_ROOT / "web" / "assets" / "js" / "names-fa.js"


def tables() -> dict[str, dict[str, str]]:
    """Each `group: {...}` table of names-fa.js (plain JSON objects)."""
    text = NAMES_JS.read_text(encoding="utf-8")
    return {m.group(1): json.loads(m.group(2)) for m in re.finditer(r"^  (\w+): (\{.*?\})", text, re.M | re.S)}


def test_every_code_the_api_sends_has_a_persian_name():
    names = tables()
    assert set(names["case_kind"]) == set(KINDS)
    assert set(names["urgency"]) == set(URGENCIES) and names["urgency"]["urgent"] == URGENCIES["urgent"]
    assert set(names["channel"]) == set(CHANNELS)
    assert names["role"] == ROLES
    assert set(STAGES) <= set(names["case_action"])
    assert set(names["column_type"]) == set(TYPES)
    persian = re.compile(r"[\u0600-\u06ff]")
    assert all(persian.search(name) for group, table in names.items() if group != "download_format"
               for name in table.values())


def test_pages_name_codes_through_the_one_formatting_module():
    js = PROJECT_ROOT / "web" / "assets" / "js"
    offenders = []
    for path in js.rglob("*.js"):
        if path.name in ("names-fa.js", "format.js"):
            continue
        text = path.read_text(encoding="utf-8")
        # a table of Persian names, or a digit map of its own, outside the formatting module
        if re.search(r"const \w+_FA = \{", text) or "۰۱۲۳۴۵۶۷۸۹" in text:
            offenders.append(path.name)
    assert offenders == []
