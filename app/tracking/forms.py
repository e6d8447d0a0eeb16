"""Forms of the tracking domain: the suppression list's add, remove and CSV import."""
from flask_wtf import FlaskForm
from flask_wtf.file import FileField, FileRequired
from wtforms import BooleanField, EmailField, HiddenField, SelectField, StringField
from wtforms.validators import DataRequired, Length, Optional, ValidationError

from ..mail.addresses import AddressError, normalise_address
from ..mail.suppression import REASONS

try:  # WTForms 3.3+ deprecates (value, label) tuples
    from wtforms.fields import SelectChoice
except ImportError:  # pragma: no cover - older WTForms
    SelectChoice = None

REASON_CHOICES = [SelectChoice(r, r.capitalize()) if SelectChoice else (r, r.capitalize()) for r in REASONS]


def normalised_address(form, field) -> None:
    """A WTForms validator: the field holds an address, normalised (``normalise_address``)."""
    try:
        field.data = normalise_address(field.data)
    except AddressError as error:
        raise ValidationError(str(error)) from None


class AddSuppressionForm(FlaskForm):
    """Suppress one address by hand."""
    email = EmailField("E-mail address", validators=[DataRequired(), Length(max=254), normalised_address])
    reason = SelectField("Reason", choices=REASON_CHOICES, default="unsubscribed")
    detail = StringField("Note", validators=[Optional(), Length(max=500)])


class RemoveSuppressionForm(FlaskForm):
    """Take one address off the list (after a confirmation page)."""
    email = HiddenField(validators=[DataRequired(), Length(max=254)])


class ImportSuppressionsForm(FlaskForm):
    """Upload a CSV of addresses to suppress."""
    file = FileField("CSV file", validators=[FileRequired("Choose a CSV file.")])
    reason = SelectField("Reason for rows without one", choices=REASON_CHOICES, default="unsubscribed")
    skip_invalid = BooleanField("Import the valid rows even when some rows are invalid")
