"""The event contract for integrators: every event type's JSON Schema, served from contracts/."""
from __future__ import annotations

from flask import jsonify
from flask_openapi3 import APIBlueprint, Tag

from common.events import schemas
from gateway.problems import not_found
from gateway.schemas import Problem, SchemaList, SchemaPath

bp = APIBlueprint("events", __name__, url_prefix="/api/v1/events",
                  abp_tags=[Tag(name="events", description="the contract of the platform's events")])


@bp.get("/schemas", responses={200: SchemaList})
def list_schemas():
    """Every event type's JSON Schema (and the CloudEvents envelope's)."""
    return jsonify({"schemas": [f"/api/v1/events/schemas/{n}.json" for n in schemas.schema_names()]})


@bp.get("/schemas/<name>.json", responses={200: {"description": "a JSON Schema (draft 2020-12)"},
                                           404: Problem})
def get_schema(path: SchemaPath):
    """One event type's JSON Schema."""
    if path.name not in schemas.schema_names():
        raise not_found("schema_not_found", "چنین طرح‌واره‌ای نیست.", f"no schema named {path.name}")
    return jsonify(schemas.load_schema(path.name))
