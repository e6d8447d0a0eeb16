"""JSON forms of broadcasts, runs, customers and products, and parsing broadcast input."""
from flask import url_for

from ..core.inputs import json_type
from ..core.timezones import default_timezone, is_timezone, parse_api_datetime
from .lookups import customer_json as picker_customer_json
from .lookups import product_json as picker_product_json

WRITABLE = ("kind", "subject", "body_html", "notice_type", "dismissible", "ends_at", "customer_ids",
            "product_ids", "product_statuses", "labels", "from_name", "reply_to", "track_opens",
            "track_clicks", "timezone", "send_at")


def iso(value) -> str | None:
    """A naive UTC datetime as ISO 8601 with a Z."""
    return value.isoformat(timespec="seconds") + "Z" if value is not None else None


def run_json(run) -> dict:
    """One run of a broadcast."""
    return {"id": run.id, "occurrence_at": iso(run.occurrence_at), "status": run.status,
            "status_reason": run.status_reason, "total": run.total, "excluded": run.excluded,
            "started_at": iso(run.started_at), "finished_at": iso(run.finished_at)}


def broadcast_json(b, detail=False) -> dict:
    """A broadcast; ``detail`` adds the body, the targets and the runs."""
    data = {
        "id": b.id, "kind": b.kind, "status": b.status, "subject": b.subject,
        "labels": [item.label for item in b.labels], "audience_size": b.audience_size,
        "notice_type": b.notice_type, "dismissible": b.dismissible, "ends_at": iso(b.ends_at),
        "product_statuses": list(b.product_statuses or []), "from_name": b.from_name,
        "reply_to": b.reply_to, "track_opens": b.track_opens, "track_clicks": b.track_clicks,
        "timezone": b.timezone, "send_at": iso(b.send_at), "sent_at": iso(b.sent_at),
        "created_at": iso(b.created_at), "updated_at": iso(b.updated_at), "revision": b.revision,
        "author": b.author.email if b.author else None,
        "url": url_for("broadcasts.detail", broadcast_id=b.id, _external=True),
    }
    if detail:
        data.update(body_html=b.body_html, customer_ids=b.customer_ids, product_ids=b.product_ids,
                    runs=[run_json(run) for run in b.runs.limit(100)])
    return data


def customer_json(c) -> dict:
    """A customer as search results show it."""
    return {**picker_customer_json(c), "created_at": iso(c.created_at)}


def product_json(p) -> dict:
    """A product with its mailing intention (who granted it, and when)."""
    return {**picker_product_json(p), "kind": p.kind, "active": p.active,
            "mailing_allowed_at": iso(p.mailing_allowed_at),
            "mailing_allowed_by": p.mailing_allowed_by.email if p.mailing_allowed_by else None}


def broadcast_changes(data: dict, current_zone=None) -> tuple[dict, dict]:
    """``(changes, errors)`` from a JSON body: unknown fields are errors, and date-times (ISO 8601,
    read in the body's or the broadcast's time zone when they have no offset) become naive UTC."""
    errors = {key: "Unknown field." for key in data if key not in WRITABLE}
    changes = {key: value for key, value in data.items() if key in WRITABLE}
    if "labels" in changes and not isinstance(changes["labels"], list):
        errors["labels"] = f"Must be a list of text (got {json_type(changes['labels'])})."
    zone = changes.get("timezone")
    zone = zone if isinstance(zone, str) and is_timezone(zone) else current_zone or default_timezone()
    for key in ("ends_at", "send_at"):
        if changes.get(key) not in (None, ""):
            try:
                changes[key] = parse_api_datetime(changes[key], zone)
            except (ValueError, KeyError) as error:
                errors[key] = str(error)
        elif key in changes:
            changes[key] = None
    return changes, errors
