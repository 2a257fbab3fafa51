"""notifications' published contract: all a caller (the gateway) imports from this service. Its typed RPC client
(`NotificationsClient`: one method per RPC method of service.py, with its signature) and its request and answer
models (`schemas`, each also by name below). tests/unit/test_import_contracts.py fails on any other import across
the boundary (import-linter, pyproject.toml)."""
from services.notifications import schemas
from services.notifications.client import NotificationsClient
from services.notifications.schemas import (
    DeadLetterPage, IntegratorBody, IntegratorList, IntegratorView, MarkedRead, MarkRead, Preview, PreviewBody,
    ReceiptsTaken, RegisteredIntegrator, Replay, Replayed, StaffNotificationPage, TemplateList, TemplatePath,
    UnreadCount, WebhookDeadLetters, WebhookReplay, WebhookReplayed,
)

__all__ = [
    "NotificationsClient", "schemas", "DeadLetterPage", "IntegratorBody", "IntegratorList", "IntegratorView",
    "RegisteredIntegrator", "WebhookDeadLetters", "WebhookReplayed", "MarkedRead", "MarkRead", "Preview",
    "PreviewBody", "ReceiptsTaken", "Replay", "Replayed", "StaffNotificationPage", "TemplateList", "TemplatePath",
    "UnreadCount", "WebhookReplay",
]
