"""The OpenAPI 3.1 document, generated from the routes' pydantic models by flask-openapi3 and
served at /api/v1/openapi.json, with Swagger UI at /api/v1/swagger except in production (its page needs
'unsafe-inline' scripts and styles; the document itself stays public)."""
from __future__ import annotations

from flask import Blueprint
from flask_openapi3 import Info, OpenAPI

from gateway.problems import PROBLEM_TYPE
from gateway.schemas import Problem

PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}
OPEN311_ERRORS_REF = {"$ref": "#/components/schemas/Open311Errors"}
# Examples of responses that are files rather than models (flask-openapi3 drops a plain schema's examples),
# by the response's description: routes declare them with file_response().
FILE_EXAMPLES: dict[str, list] = {}


def file_response(description: str, media_type: str, schema: dict, example) -> dict:
    """A response that is a file (CSV, a JSON document of someone else's standard), with its example."""
    FILE_EXAMPLES[description] = [example]
    return {"description": description, "content": {media_type: {"schema": schema}}}


def _models() -> dict[str, type]:
    """The pydantic models the document names, by name."""
    from pydantic import BaseModel

    from gateway import schemas as gateway_schemas
    from gateway.routes import open311
    from services.complaints.api import schemas as complaint_schemas
    from services.notifications.api import schemas as notification_schemas
    from services.payments.api import donation_schemas
    from services.payments.api import schemas as payment_schemas
    from services.transparency.api import schemas as transparency_schemas

    found = {}
    for module in (gateway_schemas, complaint_schemas, notification_schemas, payment_schemas,
                   open311, donation_schemas, transparency_schemas):
        for value in vars(module).values():
            if isinstance(value, type) and issubclass(value, BaseModel) and value.__module__ == module.__name__:
                found[value.__name__] = value
    return found


HTTP_METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


class GatewayOpenAPI(OpenAPI):
    def register_api(self, api, **options):
        # flask-openapi3 replaces a path's whole item with the blueprint's: two blueprints serving one path
        # with different methods (GET /staff/cases lists, POST /staff/cases registers) would lose one.
        earlier = dict(self.paths)
        super().register_api(api, **options)
        for uri, item in earlier.items():
            now = self.paths.get(uri)
            if now is not None and now is not item:
                self.paths[uri] = item.model_copy(update={m: getattr(now, m) for m in HTTP_METHODS
                                                          if getattr(now, m, None) is not None})

    def generate_spec_json(self):
        super().generate_spec_json()
        components = self.spec_json.get("components", {})
        # flask-openapi3's schema objects drop JSON Schema keywords it does not model (examples
        # among them); OpenAPI 3.1 takes JSON Schema whole, so each model's own schema goes in.
        models = _models()
        for name in list(components.get("schemas", {})):
            if name in models:
                schema = models[name].model_json_schema(ref_template="#/components/schemas/{model}")
                schema.pop("$defs", None)
                components["schemas"][name] = schema
        if components.get("securitySchemes") is None:
            components.pop("securitySchemes", None)  # flask-openapi3 writes null, which 3.1 forbids
        # Every error is application/problem+json with one shape (flask-openapi3 would say
        # application/json, and an array for validation errors).
        for path, path_item in self.spec_json["paths"].items():
            for operation in path_item.values():
                form = operation.get("requestBody", {}).get("content", {}).get("multipart/form-data")
                if form and path.startswith("/open311/"):  # GeoReport v2 posts url-encoded forms
                    operation["requestBody"]["content"]["application/x-www-form-urlencoded"] = form
                for status, response in operation.get("responses", {}).items():
                    binary = response.get("content", {}).get("application/octet-stream")
                    if binary:  # flask-openapi3 drops a plain schema's examples too
                        binary["schema"].setdefault("examples", ["%PDF-1.4 …"])
                    for media in response.get("content", {}).values():
                        if response.get("description") in FILE_EXAMPLES:
                            media["schema"].setdefault("examples", FILE_EXAMPLES[response["description"]])
                    if str(status)[0] not in "45":
                        continue
                    if path.startswith("/open311/"):  # GeoReport's own error list (see routes/open311.py)
                        response["content"] = {"application/json": {"schema": OPEN311_ERRORS_REF}}
                    else:
                        response["content"] = {PROBLEM_TYPE: {"schema": PROBLEM_REF}}


def make_app(import_name: str, swagger_ui: bool = True) -> GatewayOpenAPI:
    from common.validation import field_errors
    from gateway.auth import SECURITY_SCHEMES
    from gateway.problems import invalid

    app = GatewayOpenAPI(
        import_name,
        info=Info(title="Behzisti open platform", version="1.0.0",
                  description="One API for every frontend: citizens, hotline operators, staff, the "
                              "transparency portal and ministry integrators. Persian first; dates in "
                              "Jalali beside ISO 8601; errors as application/problem+json."),
        doc_prefix="/api/v1",
        doc_url="/openapi.json",
        validation_error_status=400,
        validation_error_model=Problem,
        validation_error_callback=lambda exc: invalid(field_errors(exc)).response(),
        security_schemes=SECURITY_SCHEMES,
        doc_ui=swagger_ui,
    )
    if not swagger_ui:  # the document alone, where flask-openapi3 would serve it beside the UI
        document = Blueprint("openapi", __name__, url_prefix=app.doc_prefix)
        document.add_url_rule(app.doc_url, endpoint="doc_url", view_func=lambda: app.api_doc)
        app.register_blueprint(document)
    return app
