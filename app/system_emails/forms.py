"""Forms of the system-emails pages: the editor, Reset & Import, and firing an event by hand."""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    EmailField,
    IntegerField,
    SelectField,
    StringField,
    TextAreaField,
)
from wtforms.validators import (
    DataRequired,
    InputRequired,
    Length,
    NumberRange,
    Optional,
)

from ..core.forms import choices
from .registry import AUDIENCES, DELAY_UNITS, STYLES
from .services import EDITABLE_FIELDS


class EmailEditorForm(FlaskForm):
    """Content and settings of one installed e-mail, plus the address a test goes to."""
    subject = StringField("Subject", validators=[DataRequired(), Length(max=500)])
    body = TextAreaField("Body", validators=[DataRequired()])
    style = SelectField("Style", choices=choices(STYLES))
    audience = SelectField("Send to", choices=choices(AUDIENCES))
    active = BooleanField("Active: send this e-mail when its event happens")
    copy_admins = BooleanField("Send a copy to the network admins")
    delay_value = IntegerField("Send after", validators=[InputRequired(), NumberRange(min=0)])
    delay_unit = SelectField("Unit", choices=choices(DELAY_UNITS.keys()))
    test_address = EmailField("Send a test to", validators=[Optional(), Length(max=254)])

    def changes(self) -> dict:
        """The submitted e-mail fields, for ``services.update_email``."""
        return {name: getattr(self, name).data for name in EDITABLE_FIELDS}

    def add_errors(self, errors: dict) -> None:
        """Show service-level errors next to their fields."""
        for name, message in errors.items():
            field = getattr(self, name, None) or self.body
            field.errors = [*field.errors, message]


class FireEventForm(FlaskForm):
    """Fire an event by hand for a chosen customer, with the event's sample data."""
    customer = StringField("Customer (number or e-mail address)",
                           validators=[DataRequired(), Length(max=254)])


class SelectionForm(FlaskForm):
    """A CSRF-protected form whose checkboxes (named ``slug``) are read from request.form."""
