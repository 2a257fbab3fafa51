"""Settings of the production profile (ENVIRONMENT=production) with every secret set to a good value, for the unit
tests of what production refuses and what it turns off (test_production_secrets.py, test_gateway_secrets.py)."""
from __future__ import annotations

import secrets

from common.config import SECRET_SETTINGS, Settings

GOOD = {name: secrets.token_urlsafe(32) for name in SECRET_SETTINGS if name not in ("amqp_uri", "token_previous_keys")}
GOOD["amqp_uri"] = "amqp://notifications:" + secrets.token_urlsafe(16) + "@rabbitmq:5672/"


def production(**overrides) -> Settings:
    return Settings(**{"environment": "production", **GOOD, **overrides})
