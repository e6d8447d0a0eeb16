"""Forms of the broadcast wizard (one per step) and of the list's actions.

The forms only parse what was typed; the rules live in ``validation`` so the API shares them.
"""
from flask_wtf import FlaskForm
from wtforms import (
    BooleanField,
    DateTimeLocalField,
    Field,
    HiddenField,
    RadioField,
    SelectField,
    SelectMultipleField,
    StringField,
    TextAreaField,
)
from wtforms.validators import InputRequired, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.forms import IdField, choices
from ..core.inputs import id_list
from ..core.timezones import timezone_names
from ..network.models import MEMBERSHIP_STATUSES
from .models import NOTICE_TYPES

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
MAX_FORM_IDS = 10_000  # the most customers a broadcast targets one by one


class IntegerListField(Field):
    """Every submitted value of one name as a list of ints (checkboxes and buttons of ids)."""

    def process_formdata(self, valuelist):
        """Parse the values (``id_list``: capped, ids only, de-duplicated); a value that is not
        an id is an error of this field."""
        self.data = []
        self.data = id_list(valuelist, self.label.text, MAX_FORM_IDS)

    def process_data(self, value):
        """Initial data: a list of ints (or nothing)."""
        self.data = list(value or [])


class MultiCheckboxField(SelectMultipleField):
    """A list of checkboxes."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def _zones():
    return choices((name, name.replace("_", " ")) for name in timezone_names())


class KindForm(FlaskForm):
    """Step 1: a notice on the dashboard, or an e-mail."""
    kind = RadioField("What do you want to send?", validators=[InputRequired("Choose Notice or Email.")],
                      choices=choices([("notice", "Notice"), ("email", "Email")]))


class AudienceForm(FlaskForm):
    """Step 2: customers (added and removed one by one) and products with membership statuses."""
    add_customer_ids = IntegerListField("Add customers")
    remove_customer_ids = IntegerListField("Remove customers")
    product_ids = IntegerListField("Products")
    product_statuses = MultiCheckboxField("Membership statuses",
                                          choices=choices((s, s.replace("-", " "))
                                                          for s in MEMBERSHIP_STATUSES))
    customer_q = StringField("Find customers", validators=[Optional()])
    product_q = StringField("Find products", validators=[Optional()])
    grant_product = IdField("Grant mailing permission", validators=[Optional()])


class ContentForm(FlaskForm):
    """Step 3: subject and HTML body; for notices the type, dismissibility and end date."""
    subject = StringField("Subject")
    body_html = TextAreaField("Message")
    notice_type = RadioField("Message type", choices=choices((t, t.capitalize()) for t in NOTICE_TYPES),
                             default="info")
    dismissible = BooleanField("Customers can dismiss it")
    ends_at_local = DateTimeLocalField("Hide after", format=DATETIME_FORMAT, validators=[Optional()])
    timezone = SelectField("Time zone", choices=_zones)


class WhenForm(FlaskForm):
    """Step 4: when to send, labels, sender overrides and tracking."""
    schedule = RadioField("When", default="now", choices=[])  # filled from WHEN_MODES
    send_at_local = DateTimeLocalField("Date and time", format=DATETIME_FORMAT, validators=[Optional()])
    timezone = SelectField("Time zone", choices=_zones)
    labels = StringField("Labels")
    from_name = StringField("Sender name")
    reply_to = StringField("Reply-to address")
    track_opens = BooleanField("Count opens")
    track_clicks = BooleanField("Count clicks")


class ReviewForm(FlaskForm):
    """Step 5: send a test, then send or schedule (``revision`` guards against a changed draft)."""
    revision = HiddenField()
    test_addresses = TextAreaField("Test addresses")
    test_customer_id = IdField("Render for customer id", validators=[Optional()])


class ActionForm(FlaskForm):
    """A CSRF-checked button (duplicate, cancel, delete, unschedule)."""
