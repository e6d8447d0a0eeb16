"""The schedule fields of the wizard's When step (also used to edit a live schedule)."""
from datetime import datetime

from flask_wtf import FlaskForm
from wtforms import DateField, IntegerField, RadioField, SelectField, SelectMultipleField, TextAreaField, TimeField
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from .rules import WEEKDAY_NAMES, RuleError, RuleSpec, timezone_names

WHEN_CHOICES = [("asap", "As soon as possible"), ("once", "Once, at a date and time"),
                ("daily", "Every N days"), ("weekly", "Every N weeks on chosen weekdays"),
                ("monthly", "Monthly on a day"), ("rrule", "Advanced: RFC 5545 RRULE")]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes (works without JavaScript)."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


class ScheduleForm(FlaskForm):
    """When a broadcast goes out; ``to_spec()`` turns it into a RuleSpec or field errors."""
    when = RadioField("When", choices=WHEN_CHOICES, default="asap")
    timezone = SelectField("Time zone", default="UTC")
    start_date = DateField("Date (first occurrence)", validators=[Optional()])
    start_time = TimeField("Time of day", validators=[Optional()])
    interval = IntegerField("Every", default=1, validators=[Optional(), NumberRange(1, 366)])
    weekdays = MultiCheckboxField("On", coerce=int,
                                  choices=[(i, name) for i, name in enumerate(WEEKDAY_NAMES)])
    month_day = IntegerField("Day of the month", validators=[Optional(), NumberRange(1, 31)])
    until = DateField("End date (optional)", validators=[Optional()])
    count = IntegerField("Or stop after N sends (optional)", validators=[Optional(), NumberRange(1, 10000)])
    rrule_text = TextAreaField("RRULE", description="e.g. FREQ=MONTHLY;BYDAY=2TU (every second "
                               "Tuesday); DTSTART, UNTIL and COUNT are allowed.")

    def __init__(self, *args, default_timezone="UTC", **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [(name, name) for name in timezone_names()]
        if not self.timezone.data:
            self.timezone.data = default_timezone

    def to_spec(self) -> RuleSpec | None:
        """The chosen rule, or None for "as soon as possible"; RuleError names the bad field."""
        kind = self.when.data
        if kind == "asap":
            return None
        start = None
        if self.start_date.data:
            start = datetime.combine(self.start_date.data, self.start_time.data or datetime.min.time())
        elif kind != "rrule":
            raise RuleError("Choose the date of the first send.", "start_date")
        if kind != "rrule" and self.start_time.data is None:
            raise RuleError("Choose the time of day.", "start_time")
        return RuleSpec(kind, self.timezone.data, start, self.interval.data or 1,
                        tuple(self.weekdays.data or ()), self.month_day.data, self.until.data,
                        self.count.data, self.rrule_text.data or "")

    def add_rule_error(self, error: RuleError) -> None:
        """Show a RuleError next to the field it concerns."""
        field = {"start": "start_date", "kind": "when"}.get(error.field, error.field)
        getattr(self, field, self.rrule_text).errors = [*getattr(self, field, self.rrule_text).errors, str(error)]

    def load(self, schedule) -> None:
        """Fill the fields from a stored Schedule (for editing)."""
        self.when.data, self.timezone.data = schedule.kind, schedule.timezone
        if schedule.start_local:
            self.start_date.data, self.start_time.data = schedule.start_local.date(), schedule.start_local.time()
        self.interval.data, self.weekdays.data = schedule.interval, list(schedule.weekdays or [])
        self.month_day.data, self.until.data = schedule.month_day, schedule.until
        self.count.data, self.rrule_text.data = schedule.count, schedule.rrule_text
