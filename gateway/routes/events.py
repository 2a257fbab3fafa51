"""The event contract for integrators: every event type's JSON Schema, served from contracts/."""
from __future__ import annotations

from flask import Blueprint, jsonify

from common.events import schemas
from gateway.problems import not_found

bp = Blueprint("events", __name__, url_prefix="/api/v1/events")


@bp.get("/schemas")
def list_schemas():
    return jsonify({"schemas": [f"{bp.url_prefix}/schemas/{n}.json" for n in schemas.schema_names()]})


@bp.get("/schemas/<name>.json")
def get_schema(name: str):
    if name not in schemas.schema_names():
        raise not_found("schema_not_found", "چنین طرح‌واره‌ای نیست.", f"no schema named {name}")
    return jsonify(schemas.load_schema(name))
