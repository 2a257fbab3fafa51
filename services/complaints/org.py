"""The organization tree (SPEC C5, C11) and who may see and do what in it: pure rules, no I/O.

A unit's id is its path (`prov.tehran.county.rey.center.ghoncheh`), so "within" is a prefix test
that PostgreSQL and Python answer the same way, and a unit's level is read off its id."""
from __future__ import annotations

from functools import lru_cache

from common.reference_data import CENTERS, COUNTIES, PROVINCE_UNITS, PROVINCES

HQ = "hq"
INSPECTION_OPERATORS = "hq.inspection"  # the operator unit of the performance-management and inspection office

HQ_UNITS = {
    "hq.inspection": "واحد اپراتوری دفتر مدیریت عملکرد و بازرسی",
    "hq.rehabilitation": "معاونت توانبخشی",
    "hq.social": "معاونت امور اجتماعی",
    "hq.prevention": "معاونت پیشگیری و درمان اعتیاد",
    "hq.pensions": "دفتر مستمری و حمایت‌های مالی",
}

# Levels, top down. A case is referred one level down at a time (SPEC C5).
LEVELS = ("hq", "hq_unit", "province", "province_unit", "county", "center")
LEVELS_FA = {"hq": "ستاد", "hq_unit": "واحد ستادی", "province": "استان", "province_unit": "واحد استانی",
             "county": "شهرستان", "center": "مرکز"}

ROLES = {
    "hotline_operator": "کارشناس مرکز تماس ۱۴۸۲",
    "hq_operator": "اپراتور ستاد",
    "hq_head": "مدیر واحد ستادی",
    "hq_expert": "کارشناس واحد ستادی",
    "province_head": "مدیرکل استان",
    "province_expert": "کارشناس استان",
    "county_head": "رئیس اداره شهرستان",
    "county_expert": "کارشناس شهرستان",
    "center_head": "مدیر مرکز",
    "center_staff": "کارشناس مرکز",
    "inspector": "بازرس",
    "finance_expert": "کارشناس مالی (آماده‌سازی پرداخت)",
    "finance_approver": "تأییدکنندهٔ پرداخت",
    "auditor": "حسابرس (فقط خواندن)",
    "admin": "مدیر سامانه",
}
# Who may see a named reporter's identity (SPEC C17): inspection only, never the unit concerned.
SEES_REPORTER = {"inspector", "hq_operator"}
# Who works cases in a cartable: refers, answers, asks for evidence (SPEC C5, C6).
ACTS_ON_CASES = {"hq_operator", "hq_head", "hq_expert", "province_head", "province_expert", "county_head", "county_expert",
                 "center_head", "center_staff"}
# Who approves or returns an answer on its way up (SPEC C6) and answers for the unit's deadlines (C13).
MANAGERS = {"hq_operator", "hq_head", "province_head", "county_head", "center_head"}
# Who reads a case's contents (text, history with internal notes, files): those who work cases and the
# inspectors. Finance, audit, administration and the hotline sit at HQ yet have no need to know them:
# to them a case is as unknown as one that does not exist.
READS_CASES = ACTS_ON_CASES | {"inspector"}
# Who answers callers about their cases: told only what the caller could read with the code.
ANSWERS_CALLERS = {"hotline_operator"}
# Who may look a reporter's cases up by mobile: the hotline, for a caller asking about their cases.
FINDS_BY_MOBILE = SEES_REPORTER | {"hotline_operator"}
# Who reads the dashboards and scorecards of their own subtree (SPEC C13, C15).
SEES_REPORTS = MANAGERS | {"inspector", "admin"}
# Who must open the cartable every 48 hours or lose access (SPEC C12).
KEEPS_A_CARTABLE = ACTS_ON_CASES


def units() -> list[dict]:
    """Every unit of the tree, parents before children."""
    rows = [_unit(HQ, None, "ستاد سازمان بهزیستی کشور")]
    rows += [_unit(uid, HQ, name) for uid, name in HQ_UNITS.items()]
    for code, name in PROVINCES.items():
        province = f"prov.{code}"
        rows.append(_unit(province, HQ, f"اداره کل بهزیستی استان {name}"))
        rows += [_unit(f"{province}.unit.{slug}", province, f"{title} استان {name}")
                 for slug, title in PROVINCE_UNITS.items()]
        for county, county_name in COUNTIES.get(code, {}).items():
            county_id = f"{province}.county.{county}"
            rows.append(_unit(county_id, province, f"اداره بهزیستی شهرستان {county_name}"))
            for slug, center_type, center_name, operator in CENTERS.get(f"{code}.{county}", ()):
                rows.append({**_unit(f"{county_id}.center.{slug}", county_id, center_name),
                             "center_type": center_type, "operator": operator})
    return rows


@lru_cache
def unit_names() -> dict[str, str]:
    return {u["id"]: u["name_fa"] for u in units()}


@lru_cache
def centers() -> frozenset[str]:
    return frozenset(u["id"] for u in units() if u["kind"] == "center")


def _unit(uid: str, parent: str | None, name: str) -> dict:
    return {"id": uid, "parent": parent, "kind": level_of(uid), "name_fa": name, "center_type": None,
            "operator": None}


def level_of(unit: str) -> str:
    parts = unit.split(".")
    if parts == [HQ]:
        return "hq"
    if parts[0] == HQ:
        return "hq_unit"
    if len(parts) == 2:
        return "province"
    if len(parts) == 4:
        return "province_unit" if parts[2] == "unit" else "county"
    if len(parts) == 6:
        return "center"
    raise ValueError(f"not a unit id: {unit!r}")


def parent_of(unit: str) -> str | None:
    level = level_of(unit)
    if level == "hq":
        return None
    if level in ("hq_unit", "province"):
        return HQ
    return ".".join(unit.split(".")[:-2])


def ancestors(unit: str) -> list[str]:
    """The unit and every unit above it, itself first."""
    chain = [unit]
    while (parent := parent_of(chain[-1])) is not None:
        chain.append(parent)
    return chain


def province_of(unit: str) -> str | None:
    parts = unit.split(".")
    return parts[1] if parts[0] == "prov" else None


def may_refer(holder: str, target: str) -> bool:
    """SPEC C5: inspection's operators → a national unit → a province → one of its units or counties
    → (from a county) one of its centers; a province unit may pass a case to a county of its province."""
    level, target_level = level_of(holder), level_of(target)
    if holder == INSPECTION_OPERATORS:
        return target_level == "hq_unit" and target != INSPECTION_OPERATORS
    if level == "hq_unit":
        return target_level == "province"
    if level == "province":
        return target_level in ("province_unit", "county") and parent_of(target) == holder
    if level == "province_unit":
        return target_level == "county" and parent_of(target) == parent_of(holder)
    if level == "county":
        return target_level == "center" and parent_of(target) == holder
    return False


def listing(kind: str | None = None, parent: str | None = None) -> list[dict]:
    """The units, for pickers: optionally one level (kind) and the children of one unit."""
    return [{"id": u["id"], "parent": u["parent"], "kind": u["kind"], "name_fa": u["name_fa"],
             "center_type": u["center_type"], "operator": u["operator"]}
            for u in units() if (kind is None or u["kind"] == kind) and (parent is None or u["parent"] == parent)]


def sees_everything(scope: str) -> bool:
    """Staff of HQ and its units see the whole country."""
    return scope == HQ or scope.startswith(HQ + ".")


def within(unit: str, scope: str) -> bool:
    """Is `unit` inside `scope`? HQ sees all; a province its units, counties and centers; a county
    its centers; a center itself."""
    return sees_everything(scope) or unit == scope or unit.startswith(scope + ".")


def visible_to(path: list[str] | tuple[str, ...]) -> list[str]:
    """Every unit that may see a case whose referral path is `path`: the units on it and all above
    them. A unit taken off the path (a missed deadline pulls the case back) no longer sees it."""
    seen: dict[str, None] = {}
    for unit in path:
        for above in ancestors(unit):
            seen.setdefault(above, None)
    return list(seen)

