"""The Payments page (list and record form) and its JSON endpoint."""
from flask import Blueprint, flash, jsonify, redirect, render_template, request, url_for

from ..core.extensions import db
from ..core.inputs import json_fields, query_cursor, read_json_object
from ..core.submissions import AlreadySubmitted, once
from .forms import PaymentForm
from .services import PaymentError, payment_dict, record_payment, search_payments

bp = Blueprint("billing", __name__)


@bp.route("/network/payments/", methods=["GET", "POST"])
def payments():
    """Recent payments and a form to record one (fires the payment system e-mails)."""
    form = PaymentForm()
    status = 200
    if form.validate_on_submit():
        try:
            with once(request.form) as submission:
                payment = record_payment(form.customer.data, form.amount.data,
                                         form.currency.data, form.status.data, form.kind.data,
                                         form.reference.data, form.membership_id.data)
                db.session.commit()
                submission.result(url_for(".payments"))
            flash(f"Payment #{payment.id} of {payment.amount} {payment.currency} recorded.", "success")
            return redirect(url_for(".payments"))
        except AlreadySubmitted as seen:
            flash("This form was already sent: the payment is recorded once.", "info")
            return redirect(seen.url or url_for(".payments"))
        except PaymentError as error:
            db.session.rollback()
            getattr(form, error.field).errors.append(str(error))
    if form.errors:
        status = 400
    after, before = query_cursor("after"), query_cursor("before")
    return render_template("billing/payments.html", form=form, page=search_payments(after, before)), status


# The fields of payments.json and the JSON types each may have (checked before anything reads them).
JSON_FIELDS = {"customer": (int, str), "amount": (str, float), "currency": (str,), "status": (str,),
               "kind": (str,), "reference": (str, None), "membership_id": (int, str, None)}


@bp.route("/network/payments.json", methods=["POST"])
def record_json():
    """Record a payment from JSON: customer (id or e-mail), amount, currency, status, kind,
    reference, membership_id; an unknown field or a value of another type is a 400 naming it."""
    try:
        data = json_fields(read_json_object(), JSON_FIELDS)
        payment = record_payment(data.get("customer", ""), data.get("amount", ""),
                                 data.get("currency", "EUR"), data.get("status", "paid"),
                                 data.get("kind", "payment"), data.get("reference", ""),
                                 data.get("membership_id"))
    except PaymentError as error:
        db.session.rollback()
        return jsonify(error=str(error), field=error.field), 400
    db.session.commit()
    return jsonify(payment_dict(payment)), 201
