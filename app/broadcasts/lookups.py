"""JSON endpoints that enhance the wizard when JavaScript runs: search-as-you-type and live preview.

Without JavaScript the same things happen through the wizard's own forms.
"""
from flask import jsonify, render_template, request
from flask_wtf import FlaskForm

from ..core.errors import json_errors
from ..core.headers import mail_frame_url
from ..core.inputs import query_cursor
from ..network.services import search_customers, search_products
from .mail import email_document
from .models import NOTICE_TYPES
from .rendering import placeholder_values, render_for, sample_customer
from .validation import clean_body, clean_subject
from .views import bp, get_broadcast


def customer_json(customer) -> dict:
    """A customer as the picker shows it."""
    return {"id": customer.id, "name": customer.name, "email": customer.email}


def product_json(product) -> dict:
    """A product as the picker shows it, with its mailing intention."""
    return {"id": product.id, "name": product.name, "slug": product.slug,
            "mailing_allowed": product.mailing_allowed}


@bp.route("/search/customers")
@json_errors
def search_customers_json():
    """Customers whose id, e-mail or name starts with ``q`` (20 per page, ``after`` for more)."""
    q = request.args.get("q", "").strip()
    if not q:
        return jsonify(results=[], next_after=None)
    page = search_customers(q, after=query_cursor("after"), per_page=20)
    return jsonify(results=[customer_json(c) for c in page.items], next_after=page.next_after)


@bp.route("/search/products")
@json_errors
def search_products_json():
    """Products whose name or slug contains ``q``."""
    page = search_products(request.args.get("q", "").strip(), after=query_cursor("after"), per_page=50)
    return jsonify(results=[product_json(p) for p in page.items], next_after=page.next_after)


@bp.route("/<int:broadcast_id>/preview", methods=["POST"])
@json_errors
def live_preview(broadcast_id):
    """The typed subject and body, sanitised and rendered for the sample customer (not saved)."""
    broadcast = get_broadcast(broadcast_id)
    if not FlaskForm().validate_on_submit():
        return jsonify(error="The form expired; reload the page."), 400
    errors = {}
    try:
        subject = clean_subject(request.form.get("subject", ""))
    except ValueError as error:
        errors["subject"], subject = str(error), ""
    try:
        body = clean_body(request.form.get("body_html", ""))
    except ValueError as error:
        errors["body_html"], body = str(error), ""
    if errors:
        return jsonify(error=next(iter(errors.values())), fields=errors), 400
    customer = sample_customer(broadcast)
    rendered = render_for(subject, body, placeholder_values(customer))
    if broadcast.kind == "email":
        html = email_document(broadcast, customer, subject=subject, body_html=body)
    else:
        notice_type = request.form.get("notice_type", "")
        if notice_type not in NOTICE_TYPES:
            notice_type = broadcast.notice_type
        html = render_template("broadcasts/notices/notice.html", subject=rendered.subject,
                               html=rendered.html, notice_type=notice_type)
    frame = mail_frame_url(html) if broadcast.kind == "email" else None
    return jsonify(subject=rendered.subject, html=html, kind=broadcast.kind, frame_url=frame)

