"""Fixtures the e2e tests share: each test module's own running platform, its staff client and what the journeys
put in it (defined once in tests/platform_fixtures.py, which the browser tests use as well)."""
from tests.platform_fixtures import api, campaigns, funded, paid, platform  # noqa: F401
