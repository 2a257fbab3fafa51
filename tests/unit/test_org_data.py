import re

from common.reference_data import CATEGORIES, CENTER_TYPES, CENTERS, COUNTIES, PROVINCE_UNITS, PROVINCES

SLUG = re.compile(r"^[a-z0-9_]+$")
ARABIC_YEH_KAF = ("\u064a", "\u0643")


def _all_persian_names():
    yield from PROVINCES.values()
    yield from PROVINCE_UNITS.values()
    yield from CENTER_TYPES.values()
    yield from CATEGORIES.values()
    for counties in COUNTIES.values():
        yield from counties.values()
    for centers in CENTERS.values():
        yield from (name for _, _, name, _ in centers)


def test_there_are_31_provinces_each_with_3_to_5_counties():
    assert len(PROVINCES) == 31
    assert set(COUNTIES) == set(PROVINCES)
    for province, counties in COUNTIES.items():
        assert 3 <= len(counties) <= 5, province


def test_the_existing_demo_counties_keep_their_slugs():
    assert {"shemiranat", "rey", "eslamshahr"} <= set(COUNTIES["tehran"])
    assert {"kashan", "najafabad"} <= set(COUNTIES["isfahan"])
    assert {"mashhad", "neyshabur"} <= set(COUNTIES["razavi_khorasan"])


def test_every_county_has_2_to_4_well_formed_centers():
    keys = {f"{province}.{county}" for province, counties in COUNTIES.items() for county in counties}
    assert set(CENTERS) == keys
    for key, centers in CENTERS.items():
        assert 2 <= len(centers) <= 4, key
        slugs = [slug for slug, _, _, _ in centers]
        assert len(slugs) == len(set(slugs)), key
        for slug, kind, name, operator in centers:
            assert kind in CENTER_TYPES, (key, slug)
            assert operator in ("state", "ngo"), (key, slug)
            assert name.strip(), (key, slug)


def test_total_centers_is_a_realistic_demo_size():
    assert 200 <= sum(len(centers) for centers in CENTERS.values()) <= 600


def test_all_slugs_are_lowercase_ascii():
    slugs = [*PROVINCES, *PROVINCE_UNITS, *CENTER_TYPES, *CATEGORIES]
    for counties in COUNTIES.values():
        slugs += list(counties)
    for centers in CENTERS.values():
        slugs += [slug for slug, _, _, _ in centers]
    assert [slug for slug in slugs if not SLUG.match(slug)] == []


def test_every_tehran_county_has_a_nursery_and_a_disability_center():
    for county in COUNTIES["tehran"]:
        kinds = {kind for _, kind, _, _ in CENTERS[f"tehran.{county}"]}
        assert {"nursery", "disability"} <= kinds, county


def test_rey_has_the_ghoncheh_nursery():
    rey = {slug: (kind, name) for slug, kind, name, _ in CENTERS["tehran.rey"]}
    assert rey["ghoncheh"] == ("nursery", "مهدکودک غنچه‌های ری")


def test_persian_names_use_persian_yeh_and_kaf():
    bad = [name for name in _all_persian_names() if any(ch in name for ch in ARABIC_YEH_KAF)]
    assert bad == []
