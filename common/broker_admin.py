"""RabbitMQ's management HTTP API, as an administrator: users, permissions, queues and connections.
Used where the platform itself makes broker users (scripts/broker_users.py for its own processes, the
notifications service for integrators). The administrator's URL is http://user:password@host:15672."""
from __future__ import annotations

from urllib.parse import quote, unquote, urlsplit

import requests


class BrokerAdminError(RuntimeError):
    """The management API refused a call (a 4xx: a fault of ours or of the setup)."""


class BrokerAdminUnavailable(BrokerAdminError):
    """The management API did not answer, or answered 5xx: weather; the caller's request may be tried again."""


class ManagementApi:
    def __init__(self, url: str, timeout: float = 10):
        parts = urlsplit(url)
        self.base = f"{parts.scheme}://{parts.hostname}:{parts.port or 15672}{parts.path.rstrip('/')}/api"
        self.auth = (unquote(parts.username or "guest"), unquote(parts.password or "guest"))
        self.timeout = timeout

    def call(self, method: str, path: str, body=None, missing_ok: bool = False, headers: dict | None = None):
        """The answer's JSON (None when empty, or a 404 with missing_ok); raises BrokerAdminError otherwise."""
        try:
            response = requests.request(method, f"{self.base}/{path}", json=body, auth=self.auth, timeout=self.timeout,
                                        headers=headers)
        except requests.RequestException as exc:
            raise BrokerAdminUnavailable(f"{method} {path}: {type(exc).__name__}") from exc
        if missing_ok and response.status_code == 404:
            return None
        if response.status_code >= 400:
            error = BrokerAdminUnavailable if response.status_code >= 500 else BrokerAdminError
            raise error(f"{method} {path}: {response.status_code} {response.text[:200]}")
        return response.json() if response.content else None

    def put_user(self, username: str, password: str, tags: str = "") -> None:
        self.call("PUT", f"users/{q(username)}", {"password": password, "tags": tags})

    def delete_user(self, username: str) -> None:
        self.call("DELETE", f"users/{q(username)}", missing_ok=True)

    def set_permissions(self, vhost: str, username: str, configure: str, write: str, read: str) -> None:
        self.call("PUT", f"permissions/{q(vhost)}/{q(username)}", {"configure": configure, "write": write, "read": read})

    def close_connections_of(self, username: str, reason: str) -> int:
        """Close every connection the user holds (deleting a user or changing its password leaves them open)."""
        closed = 0
        for connection in self.call("GET", "connections?columns=name,user") or []:
            if connection.get("user") == username:
                self.call("DELETE", f"connections/{q(connection['name'])}", missing_ok=True, headers={"X-Reason": reason})
                closed += 1
        return closed


def credentials_of(amqp_uri: str) -> tuple[str, str, str]:
    """(username, password, vhost) of an AMQP URI (the first node of a `;` list)."""
    parts = urlsplit(amqp_uri.split(";")[0].strip())
    if not parts.username or parts.password is None:
        raise ValueError("the URI names no user and password")
    vhost = unquote(parts.path[1:]) if len(parts.path) > 1 else "/"
    return unquote(parts.username), unquote(parts.password), vhost


def q(name: str) -> str:
    return quote(name, safe="")
