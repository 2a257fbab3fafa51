"""Integrators' onboarding (docs/integrators.md): an administrator registers a ministry system with the
event types it may receive, and rotates or revokes its broker credentials."""
from __future__ import annotations

from flask import g, jsonify
from flask_openapi3 import APIBlueprint, Tag

from gateway.auth import BEARER, requires
from gateway.schemas import IntegratorPath, Problem
from gateway.services import notifications
from services.notifications.api import (
    IntegratorBody, IntegratorList, IntegratorView, RegisteredIntegrator, WebhookDeadLetters, WebhookReplay,
    WebhookReplayed,
)

bp = APIBlueprint("integrators", __name__, url_prefix="/api/v1/staff/integrators",
                  abp_tags=[Tag(name="integrators", description="systems that receive the platform's events")],
                  abp_security=BEARER)



@bp.post("", responses={201: RegisteredIntegrator, 400: Problem, 401: Problem, 403: Problem, 409: Problem})
@requires("admin")
def register(body: IntegratorBody):
    """Register a system: its queue and its replay stream, bound to exactly these event types, and its broker
    user (`amqp`) or, with a `webhook_url`, the secret its posts are signed with (`webhook`): in this answer
    only (a lost answer: rotate). A type with personal fields needs `personal_data` and its `legal_basis`."""
    response = jsonify(notifications().register_integrator(g.principal, body.model_dump()))
    response.status_code = 201
    return response


@bp.get("", responses={200: IntegratorList, 401: Problem, 403: Problem})
@requires("admin")
def listing():
    """Every registered system, revoked ones too, without credentials."""
    return jsonify({"items": notifications().list_integrators(g.principal)})


@bp.post("/<integrator_id>/rotate", responses={200: RegisteredIntegrator, 401: Problem, 403: Problem, 404: Problem,
                                                409: Problem})
@requires("admin")
def rotate(path: IntegratorPath):
    """A new password (its connections on the old one are closed) or a new webhook secret, in this answer only."""
    return jsonify(notifications().rotate_integrator(g.principal, path.integrator_id))


@bp.post("/<integrator_id>/revoke", responses={200: IntegratorView, 401: Problem, 403: Problem, 404: Problem})
@requires("admin")
def revoke(path: IntegratorPath):
    """Revoke a system: its user, queue and replay stream are deleted and its connections closed."""
    return jsonify(notifications().revoke_integrator(g.principal, path.integrator_id))


@bp.get("/<integrator_id>/webhook-dead-letters", responses={200: WebhookDeadLetters, 401: Problem, 403: Problem,
                                                             404: Problem})
@requires("admin")
def webhook_dead_letters(path: IntegratorPath):
    """The events its webhook never took (every try failed), oldest first."""
    return jsonify({"items": notifications().webhook_dead_letters(g.principal, path.integrator_id)})


@bp.post("/<integrator_id>/webhook-replay", responses={200: WebhookReplayed, 400: Problem, 401: Problem, 403: Problem,
                                                        404: Problem})
@requires("admin")
def webhook_replay(path: IntegratorPath, body: WebhookReplay):
    """Post again: these dead letters (`ids`), or every event posted since a time (`since`, within 7 days)."""
    return jsonify(notifications().replay_webhooks(g.principal, path.integrator_id,
                                                   body.model_dump(mode="json", exclude_none=True)))
