"""What an integrator is given on the broker, as plain rules (no I/O): its user, its queue and its replay
stream, bound to the `<service>.events` exchanges with exactly the event types it was granted, and
permissions that let it read those two and nothing else (it can declare, bind, publish and delete nothing).

A type that carries a person's data (contracts/events/, `x-personal`) is granted only to an integrator
registered as entitled to personal data, with the legal basis written down.
"""
from __future__ import annotations

import re
from urllib.parse import urlsplit

from common.errors import FieldError, InvalidRequest
from common.events import catalog, personal

NAME_PATTERN = "[a-z][a-z0-9-]{2,39}"
NAME = re.compile(f"^{NAME_PATTERN}$")
WEBHOOK_URL_MAX = 2000
PREFIX = "integrator"
REPLAY_SUFFIX = ".replay"
REPLAY_MAX_AGE = "7D"  # how far back an integrator can replay from its stream
KEPT_MS = 7 * 24 * 3600 * 1000  # and how long its queue keeps an event it has not taken
# far above any redelivery count a disconnect can cause (see common/events/handler.py): a plain limit on
# RabbitMQ 3.10 and 4.x alike, which would otherwise differ (4.x defaults quorum queues to 20)
QUEUE_DELIVERY_LIMIT = 10**9


def username(name: str) -> str:
    return f"{PREFIX}.{name}"


def queue_name(name: str) -> str:
    return f"{PREFIX}.{name}"


def stream_name(name: str) -> str:
    return f"{queue_name(name)}{REPLAY_SUFFIX}"


def queue_arguments() -> dict:
    """A quorum queue that keeps what waits for as long as the replay stream does, no longer: a system that
    never comes back does not fill the broker's disk."""
    return {"x-queue-type": "quorum", "x-delivery-limit": QUEUE_DELIVERY_LIMIT, "x-message-ttl": KEPT_MS}


def stream_arguments() -> dict:
    return {"x-queue-type": "stream", "x-max-age": REPLAY_MAX_AGE}


def permissions(name: str) -> dict:
    """Read its own queue and stream; nothing to configure, nothing to write (a publish to any exchange,
    the default one included, is refused)."""
    own = re.escape(queue_name(name))
    return {"configure": "^$", "write": "^$", "read": f"^{own}({re.escape(REPLAY_SUFFIX)})?$"}


def bindings(event_types: list[str]) -> list[tuple[str, str]]:
    """(exchange, routing key) for each granted type."""
    return [(catalog.BY_TYPE[t].exchange, t) for t in sorted(event_types)]


def check_grant(name: str, event_types: list[str], personal_data: bool, legal_basis: str,
                webhook_url: str | None = None, production: bool = False) -> list[str]:
    """The types, sorted and once each; InvalidRequest naming every field at fault."""
    errors = []
    if webhook_url is not None and not _webhook_url_ok(webhook_url, production):
        errors.append(FieldError("webhook_url", "invalid_webhook_url", "نشانی وب‌هوک باید یک نشانی کامل https باشد.",
                                 f"an absolute https:// URL (http:// only outside production), at most {WEBHOOK_URL_MAX} characters"))
    if not NAME.match(name or ""):
        errors.append(FieldError("name", "invalid_name", "نام باید با حرف لاتین کوچک آغاز شود و ۳ تا ۴۰ حرف "
                                 "لاتین کوچک، رقم یا خط تیره باشد.", NAME.pattern))
    unknown = sorted(set(event_types) - set(catalog.BY_TYPE))
    if unknown or not event_types:
        errors.append(FieldError("event_types", "unknown_event_type", "نوع رویداد ناشناخته است.",
                                 f"unknown: {', '.join(unknown) or '(none given)'}; see GET /api/v1/events/schemas"))
    needing = sorted(t for t in set(event_types) & set(catalog.BY_TYPE) if personal.personal_fields(t))
    if needing and not personal_data:
        errors.append(FieldError("event_types", "personal_data_not_granted",
                                 "این رویدادها دادهٔ شخصی دارند و فقط به سامانه‌ای داده می‌شوند که مجوز دادهٔ شخصی دارد.",
                                 f"carry personal data: {', '.join(needing)}"))
    if personal_data and len((legal_basis or "").strip()) < 10:
        errors.append(FieldError("legal_basis", "legal_basis_required",
                                 "برای دادهٔ شخصی، مبنای قانونی را بنویسید.", "at least 10 characters"))
    if errors:
        raise InvalidRequest(errors)
    return sorted(set(event_types))


def _webhook_url_ok(url: str, production: bool) -> bool:
    parts = urlsplit(url)
    schemes = ("https",) if production else ("https", "http")
    return len(url) <= WEBHOOK_URL_MAX and parts.scheme in schemes and bool(parts.hostname) and not parts.username
