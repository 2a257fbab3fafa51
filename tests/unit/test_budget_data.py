"""The 16 budget lines (SPEC T9, P3) and the demo registry of 1,542,000 pension households (SPEC P2)."""
import hashlib
import json
import os
import re
import subprocess
import sys
from collections import Counter

import pytest

from common.config import PROJECT_ROOT
from common.identifiers import is_valid_national_id, is_valid_sheba, normalise_mobile, normalise_sheba
from common.reference_data import PROVINCES
from services.payments import demo_registry
from common.budget_lines import (
    BUDGET_LINES, CENTER_LINES, DEMO_HOUSEHOLDS, DEMO_SECOND_ENROLMENTS, LINES_BY_CODE,
    ORGANIZATION_BUDGET_1405_RIALS, PENSION_LINES, SUPPLEMENT_LINES, UNDERFUNDED_LINE,
)

KEYS = {"code", "title_fa", "per_capita_rials", "purpose_fa", "legal_basis_fa", "yearly_allocation_rials", "pays",
        "demo_beneficiaries"}
PERSON_KEYS = {"national_id", "full_name_fa", "household_size", "mobile", "province", "iban", "status", "lines"}
ARABIC_YEH_KAF = ("\u064a", "\u0643")
PERSIAN = re.compile(r"^[\u0600-\u06ff\u200c ]+$")


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def test_there_are_16_well_formed_lines_with_unique_codes():
    assert len(BUDGET_LINES) == 16
    codes = [line["code"] for line in BUDGET_LINES]
    assert len(set(codes)) == 16 and set(LINES_BY_CODE) == set(codes)
    for line in BUDGET_LINES:
        assert set(line) == KEYS, line["code"]
        assert re.fullmatch(r"[a-z][a-z0-9_]*", line["code"])
        assert _is_int(line["per_capita_rials"]) and line["per_capita_rials"] > 0, line["code"]
        assert _is_int(line["yearly_allocation_rials"]) and line["yearly_allocation_rials"] > 0, line["code"]
        assert _is_int(line["demo_beneficiaries"]) and line["demo_beneficiaries"] >= 0, line["code"]
        assert line["pays"] in {"beneficiary", "center"}
        assert (line["demo_beneficiaries"] == 0) == (line["pays"] == "center"), line["code"]
        for key in ("title_fa", "purpose_fa", "legal_basis_fa"):
            assert line[key].strip() and not any(c in line[key] for c in ARABIC_YEH_KAF), (line["code"], key)
        assert line["purpose_fa"].endswith(".") and line["purpose_fa"].count(".") == 1, line["code"]
        assert "قانون" in line["legal_basis_fa"], line["code"]


def test_the_lines_fall_in_pensions_supplements_and_center_lines():
    assert set(PENSION_LINES) | set(SUPPLEMENT_LINES) | set(CENTER_LINES) == set(LINES_BY_CODE)
    assert len(PENSION_LINES) + len(SUPPLEMENT_LINES) + len(CENTER_LINES) == 16
    assert all(LINES_BY_CODE[code]["pays"] == "beneficiary" for code in PENSION_LINES + SUPPLEMENT_LINES)


def test_the_demo_counts_each_household_once():
    """Every household has one pension line (the pensions add up to 1,542,000); a second line is a second
    enrolment of the same household, counted once as a household."""
    assert DEMO_HOUSEHOLDS == 1_542_000 == demo_registry.count()
    assert sum(LINES_BY_CODE[code]["demo_beneficiaries"] for code in PENSION_LINES) == DEMO_HOUSEHOLDS
    enrolments = sum(line["demo_beneficiaries"] for line in BUDGET_LINES)
    assert enrolments - DEMO_SECOND_ENROLMENTS == DEMO_HOUSEHOLDS
    assert 0 < DEMO_SECOND_ENROLMENTS < DEMO_HOUSEHOLDS
    assert demo_registry.enrolment_counts() == {line["code"]: line["demo_beneficiaries"] for line in BUDGET_LINES}
    for pension, plan in demo_registry.SUPPLEMENT_PLAN.items():
        assert sum(n for _, n in plan) <= LINES_BY_CODE[pension]["demo_beneficiaries"]


def test_allocations_cover_a_year_of_payments_except_the_underfunded_line():
    for line in BUDGET_LINES:
        if line["pays"] != "beneficiary" or line["code"] == UNDERFUNDED_LINE:
            continue
        year = 12 * line["per_capita_rials"] * line["demo_beneficiaries"]
        assert line["yearly_allocation_rials"] >= year * 1.05, line["code"]


def test_the_underfunded_line_cannot_pay_one_month():
    line = LINES_BY_CODE[UNDERFUNDED_LINE]
    assert line["pays"] == "beneficiary" and UNDERFUNDED_LINE in SUPPLEMENT_LINES
    assert 0 < line["yearly_allocation_rials"] < line["per_capita_rials"] * line["demo_beneficiaries"]


def test_the_yearly_budget_is_plausible_for_1405():
    """82% of the budget in 16 lines (seed 000); the 1405 bill is about 109 thousand billion toman."""
    total = sum(line["yearly_allocation_rials"] for line in BUDGET_LINES)
    assert 0.78 <= total / ORGANIZATION_BUDGET_1405_RIALS <= 0.86
    pensions = sum(LINES_BY_CODE[code]["yearly_allocation_rials"] for code in PENSION_LINES)
    assert pensions > total / 2  # pensions are most of what is paid into people's accounts
    for code in PENSION_LINES:  # 1405 pensions: 15 to 60 million rials a month per household
        assert 15_000_000 <= LINES_BY_CODE[code]["per_capita_rials"] <= 60_000_000, code


def _check_person(person: dict) -> None:
    assert set(person) == PERSON_KEYS
    assert is_valid_national_id(person["national_id"]), person
    assert is_valid_sheba(person["iban"]) and normalise_sheba(person["iban"]) == person["iban"], person
    assert person["iban"][-10:] == person["national_id"]  # the fake bank infers the owner from it
    assert person["mobile"] is None or normalise_mobile(person["mobile"]) == person["mobile"], person
    assert person["province"] in PROVINCES
    assert person["status"] in {"active", "suspended", "deceased"}
    assert _is_int(person["household_size"]) and 1 <= person["household_size"] <= 8
    assert PERSIAN.match(person["full_name_fa"]) and len(person["full_name_fa"].split(" ")) == 2
    assert not any(c in person["full_name_fa"] for c in ARABIC_YEH_KAF)
    lines = person["lines"]
    assert 1 <= len(lines) <= 2 and lines[0] in PENSION_LINES
    assert len(lines) == 1 or lines[1] in SUPPLEMENT_LINES


def test_the_first_100000_people_are_valid_unique_and_plausibly_spread():
    ids, statuses, provinces, with_mobile = set(), Counter(), Counter(), 0
    for person in demo_registry.beneficiaries(stop=100_000):
        _check_person(person)
        ids.add(person["national_id"])
        statuses[person["status"]] += 1
        provinces[person["province"]] += 1
        with_mobile += person["mobile"] is not None
        if person["lines"][0] == "pension_female_headed":
            assert person["full_name_fa"].split(" ")[0] in demo_registry.FEMALE_FIRST_NAMES
    assert len(ids) == 100_000
    assert 0.83 <= with_mobile / 100_000 <= 0.87
    assert 0.96 <= statuses["active"] / 100_000 <= 0.98
    assert 0.015 <= statuses["suspended"] / 100_000 <= 0.025
    assert 0.005 <= statuses["deceased"] / 100_000 <= 0.015
    assert {slug for slug, _ in provinces.most_common(5)} == {"tehran", "razavi_khorasan", "isfahan", "khuzestan",
                                                               "fars"}
    assert set(provinces) == set(PROVINCES)


def test_people_all_along_the_registry_are_valid():
    for start in range(0, DEMO_HOUSEHOLDS, 97_003):
        for person in demo_registry.beneficiaries(start=start, stop=start + 300):
            _check_person(person)
    last = list(demo_registry.beneficiaries(start=DEMO_HOUSEHOLDS - 1000))
    assert len(last) == 1000
    for person in last:
        _check_person(person)
    assert list(demo_registry.beneficiaries(start=DEMO_HOUSEHOLDS)) == []


def test_the_whole_stream_enrols_exactly_the_budgeted_people():
    """One pass over all 1,542,000 people (about 10 s here): the people, and the enrolments of each line."""
    people = 0
    enrolments = dict.fromkeys(LINES_BY_CODE, 0)
    for person in demo_registry.beneficiaries():
        people += 1
        for code in person["lines"]:
            enrolments[code] += 1
    assert people == DEMO_HOUSEHOLDS
    assert enrolments == {line["code"]: line["demo_beneficiaries"] for line in BUDGET_LINES}


def test_the_registry_is_deterministic_and_sliceable():
    first = demo_registry.take(1_000)
    demo_registry._PARAMS.clear()  # rebuild the seed's tables from scratch
    assert demo_registry.take(1_000) == first
    assert list(demo_registry.beneficiaries(start=400, stop=1_000)) == first[400:]
    assert demo_registry.person(777) == first[777]
    other = demo_registry.take(1_000, seed=7)
    assert other != first and [p["national_id"] for p in other] != [p["national_id"] for p in first]


def test_another_process_generates_the_same_registry():
    """Nothing depends on the process: not the hash seed, not dict order."""
    script = ("import hashlib, json; from services.payments import demo_registry as r; "
              "print(hashlib.sha256(json.dumps(r.take(1000), ensure_ascii=False).encode()).hexdigest())")
    env = {**os.environ, "PYTHONHASHSEED": "12345", "PYTHONPATH": str(PROJECT_ROOT)}
    result = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, env=env, cwd=PROJECT_ROOT,
                            check=True)
    here = hashlib.sha256(json.dumps(demo_registry.take(1_000), ensure_ascii=False).encode()).hexdigest()
    assert result.stdout.strip() == here


@pytest.mark.parametrize("i", [0, 1, 999, 1_000, 123_456, 1_000_001, DEMO_HOUSEHOLDS - 1])
def test_a_person_is_found_again_by_national_id(i):
    person = demo_registry.person(i)
    assert demo_registry.index_of(person["national_id"]) == i
    assert demo_registry.find(person["national_id"]) == person
    assert demo_registry.find(person["iban"][-10:]) == person


def test_national_ids_outside_the_registry_are_not_found():
    assert demo_registry.find("0499370899") is None
    assert demo_registry.find("abc") is None and demo_registry.find("12345678901") is None
    person = demo_registry.person(42)
    wrong_check = person["national_id"][:9] + str((int(person["national_id"][9]) + 1) % 10)
    assert demo_registry.find(wrong_check) is None
    with pytest.raises(IndexError):
        demo_registry.person(DEMO_HOUSEHOLDS)
