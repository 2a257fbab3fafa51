"""The services the gateway calls, each through its typed client (services/<name>/api.py): a route writes
`complaints().register_case(...)`, a call a reader can follow into the service method of the same name. The
clients are made once per app over its RPC transport (gateway/rpc.py)."""
from __future__ import annotations

from flask import current_app

from services.complaints.api import ComplaintsClient
from services.notifications.api import NotificationsClient
from services.payments.api import PaymentsClient
from services.transparency.api import TransparencyClient


class Services:
    def __init__(self, transport):
        self.complaints = ComplaintsClient(transport)
        self.notifications = NotificationsClient(transport)
        self.payments = PaymentsClient(transport)
        self.transparency = TransparencyClient(transport)


def complaints() -> ComplaintsClient:
    return current_app.extensions["services"].complaints


def notifications() -> NotificationsClient:
    return current_app.extensions["services"].notifications


def payments() -> PaymentsClient:
    return current_app.extensions["services"].payments


def transparency() -> TransparencyClient:
    return current_app.extensions["services"].transparency
