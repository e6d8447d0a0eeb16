"""The broadcasts' JSON API under /api/v1 (API keys only): broadcasts (create, list, get, update,
send or schedule, cancel), the audience's customer and product search, and the products' mailing
permission. See docs/api.md."""
from flask import Blueprint, abort, g, jsonify, request

from ..api.auth import api_error, require_api_key
from ..core.extensions import db
from ..core.inputs import (
    MAX_ID,
    check_query,
    json_fields,
    json_type,
    query_cursor,
    query_int,
    read_json_object,
    whole_number,
)
from ..network.models import Product
from ..network.services import search_customers, search_products
from . import drafts
from .listing import ListFilters, list_broadcasts
from .models import KINDS, STATUSES, Broadcast
from .sending import SendError, cancel, send_later, send_now
from .serializers import (
    broadcast_changes,
    broadcast_json,
    customer_json,
    product_json,
    run_json,
)
from .when import is_scheduled

bp = Blueprint("broadcasts_api", __name__, url_prefix="/api/v1")
MAX_PAGE = 200
PAGE_ARGS = {"after": None, "limit": None}  # the query arguments of every list (_page_args)
SEARCH_ARGS = {"q": None, **PAGE_ARGS}
BROADCAST_ARGS = {"kind": KINDS, "status": STATUSES, "label": None, **SEARCH_ARGS}
bp.before_request(require_api_key)


def _broadcast(broadcast_id) -> Broadcast:
    return db.session.get(Broadcast, broadcast_id) or abort(404, f"There is no broadcast {broadcast_id}.")


def _apply(broadcast, data):
    """Validate and apply a JSON body to a draft (a new one when ``broadcast`` is None).

    Returns ``(broadcast, None)``, or ``(None, error response)`` with nothing saved.
    """
    changes, errors = broadcast_changes(data, broadcast.timezone if broadcast else None)
    if errors:
        return None, api_error(400, next(iter(errors.values())), fields=errors)
    try:
        if broadcast is None:
            broadcast = drafts.create_draft(g.api_user, changes)
        else:
            drafts.update_draft(broadcast, changes)
    except drafts.DraftError as error:
        db.session.rollback()
        field, message = next(iter(error.errors.items()))
        return None, api_error(400, f"{field}: {message}", fields=error.errors)
    except drafts.NotADraft as error:
        db.session.rollback()
        return None, api_error(409, str(error))
    return broadcast, None


def _page_args() -> dict:
    """``after`` (an id) and ``limit`` (1-200, default 50) of a list; 400 when out of range."""
    return {"after": query_cursor("after"), "per_page": query_int("limit", 50, 1, MAX_PAGE)}


def _page_json(page, key, serialize):
    return jsonify({key: [serialize(item) for item in page.items], "next_after": page.next_after})


@bp.get("/broadcasts")
def list_():
    """Broadcasts, newest first; filters ``kind``, ``status``, ``label``, ``q``; ``after``, ``limit``
    (400 naming any other argument, or a kind or status that is none of ``KINDS``/``STATUSES``)."""
    check_query(BROADCAST_ARGS)
    page = list_broadcasts(ListFilters.from_args(request.args), **_page_args())
    return _page_json(page, "broadcasts", broadcast_json)


@bp.post("/broadcasts")
def create():
    """Create a draft from a JSON body (``kind`` is required)."""
    data = read_json_object()
    kind = data.get("kind")
    if kind not in ("notice", "email"):
        if "kind" not in data:
            message = 'Required: "notice" or "email".'
        elif isinstance(kind, str):
            message = f'Must be "notice" or "email" (got {kind[:40]!r}).'
        else:
            message = f'Must be the text "notice" or "email" (got {json_type(kind)}).'
        return api_error(400, f"kind: {message}", fields={"kind": message})
    created, error = _apply(None, data)
    if error:
        return error
    db.session.commit()
    return jsonify(broadcast_json(created, detail=True)), 201


@bp.get("/broadcasts/<int:broadcast_id>")
def get(broadcast_id):
    """One broadcast with its body, targets and runs."""
    return jsonify(broadcast_json(_broadcast(broadcast_id), detail=True))


@bp.route("/broadcasts/<int:broadcast_id>", methods=["PATCH", "PUT"])
def update(broadcast_id):
    """Change fields of a draft (409 when it is no longer a draft)."""
    broadcast, error = _apply(_broadcast(broadcast_id), read_json_object())
    if error:
        return error
    db.session.commit()
    return jsonify(broadcast_json(broadcast, detail=True))


@bp.post("/broadcasts/<int:broadcast_id>/send")
def send(broadcast_id):
    """Send a draft now, or schedule it: body ``{"send_at": ..., "timezone": ...}`` or a draft
    whose ``send_at`` is set. ``revision`` (optional) refuses a draft changed since it was read."""
    broadcast = _broadcast(broadcast_id)
    data = read_json_object()
    revision = data.pop("revision", None)
    if revision is not None:
        try:
            revision = whole_number(revision, "revision", 0, MAX_ID)
        except ValueError as error:
            return api_error(400, str(error), fields={"revision": str(error)})
    if data and broadcast.status == "draft":
        _, error = _apply(broadcast, data)
        if error:
            return error
    try:
        if is_scheduled(broadcast):
            send_later(broadcast, revision)
            run = None
        else:
            run = send_now(broadcast, revision)
    except SendError as error:
        db.session.rollback()
        return api_error(error.code, str(error), problems=[p.message for p in error.problems])
    db.session.commit()
    return jsonify(broadcast=broadcast_json(broadcast), run=run_json(run) if run else None), 202


@bp.post("/broadcasts/<int:broadcast_id>/cancel")
def cancel_(broadcast_id):
    """Cancel a draft, a schedule, a live notice or an unfinished e-mail (no body fields: 400)."""
    broadcast = _broadcast(broadcast_id)
    json_fields(read_json_object(), {})
    try:
        cancel(broadcast)
    except SendError as error:
        db.session.rollback()
        return api_error(error.code, str(error))
    db.session.commit()
    return jsonify(broadcast_json(broadcast))


@bp.get("/customers")
def customers():
    """Customers by id, or e-mail or name prefix (``q``), newest first; ``after``, ``limit``."""
    check_query(SEARCH_ARGS)
    page = search_customers(request.args.get("q", ""), **_page_args())
    return _page_json(page, "customers", customer_json)


@bp.get("/products")
def products():
    """Products whose name or slug contains ``q``; ``after``, ``limit``."""
    check_query(SEARCH_ARGS)
    page = search_products(request.args.get("q", ""), **_page_args())
    return _page_json(page, "products", product_json)


# Why ``{"allowed": false}`` is refused: the permission is checked when a broadcast is sent or
# scheduled (sending.readiness_problems), not at each run of a schedule, so a revoke would leave
# the e-mails already scheduled to the product's members going out.
NO_REVOKE = ("Revoking the mailing permission is not supported: it is checked when an e-mail broadcast "
             "is sent or scheduled, not at each run, so broadcasts already scheduled to this product's "
             "members would still be sent. Cancel them (POST /api/v1/broadcasts/ID/cancel) or remove the "
             "product from them; send no body, {} or {\"allowed\": true} to grant.")


@bp.post("/products/<int:product_id>/mailing-permission")
def grant_mailing(product_id):
    """Allow e-mail broadcasts to this product's members (recorded with the key's user). The body
    is empty, ``{}`` or ``{"allowed": true}``; ``{"allowed": false}`` (a revoke) and any other field
    are refused with 400, so a script meant to revoke never grants."""
    product = db.session.get(Product, product_id) or abort(404, f"There is no product {product_id}.")
    data = json_fields(read_json_object(), {"allowed": (bool,)})
    if data.get("allowed") is False:
        return api_error(400, f"allowed: {NO_REVOKE}", fields={"allowed": NO_REVOKE})
    drafts.grant_mailing(product, g.api_user)
    db.session.commit()
    return jsonify(product_json(product))
