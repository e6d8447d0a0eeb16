"""The OpenAPI 3 description of /api/v1, declared once here and served at /api/v1/openapi.json."""
from flask import Blueprint, jsonify

from ..core.inputs import MAX_ID, MAX_JSON_BYTES, MAX_JSON_DEPTH
from .auth import require_api_key

bp = Blueprint("api_openapi", __name__, url_prefix="/api/v1")
bp.before_request(require_api_key)

ID = {"type": "integer", "minimum": 1, "maximum": MAX_ID}
TEXT = {"type": "string"}
WHEN = {"type": ["string", "null"], "format": "date-time"}
IDS = {"type": "array", "items": ID}


def _object(properties: dict, required=()) -> dict:
    return {"type": "object", "properties": properties, "required": list(required),
            "additionalProperties": False}


BROADCAST_FIELDS = _object({
    "kind": {"enum": ["notice", "email"]}, "subject": TEXT, "body_html": TEXT,
    "customer_ids": {**IDS, "maxItems": 10_000}, "product_ids": {**IDS, "maxItems": 1_000},
    "product_statuses": {"type": "array", "maxItems": 6, "items": {
        "enum": ["active", "trialing", "pending", "on-hold", "expired", "cancelled"]}},
    "labels": {"type": "array", "maxItems": 100,
               "items": {"type": "string", "minLength": 1, "maxLength": 64}},
    "notice_type": {"enum": ["info", "success", "warning", "error"]}, "dismissible": {"type": "boolean"},
    "ends_at": WHEN, "from_name": {"type": ["string", "null"]}, "reply_to": {"type": ["string", "null"]},
    "track_opens": {"type": "boolean"}, "track_clicks": {"type": "boolean"},
    "timezone": {"type": "string", "example": "Europe/Amsterdam"}, "send_at": WHEN})
SCHEDULE = _object({
    "kind": {"enum": ["daily", "weekly", "monthly", "rrule", "once"]}, "timezone": TEXT, "start": WHEN,
    "interval": {"type": "integer", "minimum": 1, "maximum": 366},
    "weekdays": {"type": "array", "maxItems": 7, "items": {"type": "integer", "minimum": 0, "maximum": 6}},
    "month_day": {"type": ["integer", "null"], "minimum": 1, "maximum": 31},
    "until": {"type": ["string", "null"], "format": "date"}, "count": {"type": ["integer", "null"], "minimum": 1},
    "short_months": {"enum": ["skip", "last_day"]}, "rrule": TEXT})
SEND = _object({**BROADCAST_FIELDS["properties"], "revision": {"type": "integer", "minimum": 0, "maximum": MAX_ID}})
ERROR = {"description": "An error: `{\"error\": message, \"status\": code}` (`fields` names bad fields)",
         "content": {"application/json": {"schema": _object({"error": TEXT, "status": {"type": "integer"},
                                                              "fields": {"type": "object"},
                                                              "problems": {"type": "array"}})}}}
PAGE = [{"name": "after", "in": "query", "schema": {"type": "integer", "minimum": 0, "maximum": MAX_ID}},
        {"name": "limit", "in": "query", "schema": {"type": "integer", "minimum": 1, "maximum": 200}},
        {"name": "q", "in": "query", "schema": TEXT}]


def _path_id(name: str) -> dict:
    return {"name": name, "in": "path", "required": True, "schema": ID}


def _operation(summary: str, ok: int = 200, params=(), body=None, errors=(400, 401, 404)) -> dict:
    operation = {"summary": summary, "parameters": list(params),
                 "responses": {str(ok): {"description": "OK", "content": {"application/json": {}}},
                               **{str(code): {"$ref": "#/components/responses/Error"} for code in errors}}}
    if body is not None:  # a body too large (413) or not sent as JSON (415): docs/api.md#errors
        operation["requestBody"] = {"required": False, "content": {"application/json": {"schema": body}}}
        operation["responses"].update({code: {"$ref": "#/components/responses/Error"} for code in ("413", "415")})
    return operation


B, R = _path_id("broadcast_id"), _path_id("run_id")
ACTION = {"name": "action", "in": "path", "required": True}
PATHS = {
    "/broadcasts": {
        "get": _operation("List broadcasts, newest first", params=[
            *PAGE, {"name": "kind", "in": "query", "schema": {"enum": ["notice", "email"]}},
            {"name": "status", "in": "query", "schema": {"enum": [
                "draft", "scheduled", "sending", "sent", "paused", "cancelled", "failed"]}},
            {"name": "label", "in": "query", "schema": TEXT}]),
        "post": _operation("Create a draft", 201, body={**BROADCAST_FIELDS, "required": ["kind"]})},
    "/broadcasts/{broadcast_id}": {
        "get": _operation("One broadcast with its body, targets and runs", params=[B]),
        "patch": _operation("Change fields of a draft", params=[B], body=BROADCAST_FIELDS, errors=(400, 401, 404, 409)),
        "put": _operation("Change fields of a draft (as PATCH)", params=[B], body=BROADCAST_FIELDS,
                          errors=(400, 401, 404, 409))},
    "/broadcasts/{broadcast_id}/send": {
        "post": _operation("Send a draft now, or schedule it", 202, [B], SEND, (400, 401, 404, 409))},
    "/broadcasts/{broadcast_id}/cancel": {
        "post": _operation("Cancel a draft, a schedule, a live notice or an unfinished e-mail", 200, [B],
                           errors=(401, 404, 409))},
    "/broadcasts/{broadcast_id}/schedule": {
        "get": _operation("The broadcast's schedule", params=[B]),
        "put": _operation("Replace the schedule", params=[B], body=SCHEDULE, errors=(400, 401, 404, 409))},
    "/broadcasts/{broadcast_id}/schedule/{action}": {
        "post": _operation("Pause, resume or end a live schedule", params=[
            B, {**ACTION, "schema": {"enum": ["pause", "resume", "end"]}}], errors=(401, 404, 409))},
    "/customers": {"get": _operation("Customers by id, or e-mail or name prefix", params=PAGE)},
    "/products": {"get": _operation("Products whose name or slug contains q", params=PAGE)},
    "/products/{product_id}/mailing-permission": {
        "post": _operation("Allow e-mail broadcasts to the product's members (a revoke, "
                           '{"allowed": false}, is refused: docs/api.md)', params=[_path_id("product_id")],
                           body=_object({"allowed": {"type": "boolean"}}), errors=(400, 401, 404))},
    "/delivery/runs/{run_id}": {"get": _operation("A run's progress", params=[R])},
    "/delivery/runs/{run_id}/{action}": {
        "post": _operation("Pause, resume, cancel or resend-unknown a run (resend-unknown: the body "
                           "confirms the number of unknown rows, else 422; docs/delivery.md)", params=[
            R, {**ACTION, "schema": {"enum": ["pause", "resume", "cancel", "resend-unknown"]}}],
            body=_object({"expected_unknown": {"type": "integer", "minimum": 0}}),
            errors=(400, 401, 404, 409, 422))},
    "/openapi.json": {"get": _operation("This description", errors=(401,))},
}
SPEC = {
    "openapi": "3.1.0",
    "info": {"title": "Herald JSON API", "version": "1",
             "description": f"See docs/api.md. Bodies: at most {MAX_JSON_BYTES:,} bytes, nested at most "
                          f"{MAX_JSON_DEPTH} deep; ids 1 to {MAX_ID:,}."},
    "servers": [{"url": "/api/v1"}],
    "security": [{"bearer": []}, {"apiKey": []}],
    "paths": PATHS,
    "components": {
        "securitySchemes": {"bearer": {"type": "http", "scheme": "bearer"},
                            "apiKey": {"type": "apiKey", "in": "header", "name": "X-API-Key"}},
        "responses": {"Error": ERROR}},
}


@bp.get("/openapi.json")
def openapi():
    """The OpenAPI 3 description of /api/v1 (``SPEC``)."""
    return jsonify(SPEC)
