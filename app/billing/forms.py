"""The admin's form to record a payment."""
from flask_wtf import FlaskForm
from wtforms import SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional

from ..core.forms import IdField, choices
from .models import PAYMENT_KINDS, PAYMENT_STATUSES


class PaymentForm(FlaskForm):
    """Customer, amount, currency, status, kind and reference of a payment."""
    customer = StringField("Customer (number or e-mail address)", validators=[DataRequired(), Length(max=254)])
    amount = StringField("Amount", validators=[DataRequired(), Length(max=20)])
    currency = StringField("Currency", default="EUR", validators=[DataRequired(), Length(max=3)])
    status = SelectField("Status", choices=choices({s: s.capitalize() for s in PAYMENT_STATUSES}), default="paid")
    kind = SelectField("Kind", choices=choices({k: k.capitalize() for k in PAYMENT_KINDS}),
                       default=PAYMENT_KINDS[0])
    reference = StringField("Reference", validators=[Optional(), Length(max=100)])
    membership_id = IdField("Membership number (optional)", validators=[Optional()])
