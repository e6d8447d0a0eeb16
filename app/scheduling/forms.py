"""The schedule fields: the wizard's When step gets them, and so does the schedule editor.

Field names are shared with the broadcasts wizard (``schedule``, ``send_at_local``, ``timezone``),
so one ``spec_from_form`` reads the When step, the editor and the live preview alike.
"""
from flask_wtf import FlaskForm
from wtforms import (
    DateField,
    DateTimeLocalField,
    IntegerField,
    RadioField,
    SelectField,
    SelectMultipleField,
    TextAreaField,
)
from wtforms.fields.choices import SelectChoice
from wtforms.validators import NumberRange, Optional
from wtforms.widgets import CheckboxInput, ListWidget

from ..core.timezones import default_timezone, timezone_names
from .rules import WEEKDAY_NAMES, RuleError, RuleSpec

DATETIME_FORMAT = "%Y-%m-%dT%H:%M"
REPEAT_CHOICES = [SelectChoice("daily", "days"), SelectChoice("weekly", "weeks, on the weekdays below"),
                  SelectChoice("monthly", "months, on a day of the month")]
SHORT_MONTH_CHOICES = [SelectChoice("skip", "skip that month"),
                       SelectChoice("last_day", "send on the month's last day")]
MODE_CHOICES = [SelectChoice("once", "Once, at a date and time"),
                SelectChoice("recurring", "On a recurring schedule"),
                SelectChoice("rrule", "Advanced: an RFC 5545 RRULE")]


class MultiCheckboxField(SelectMultipleField):
    """A multiple choice shown as checkboxes (works without JavaScript)."""
    widget = ListWidget(prefix_label=False)
    option_widget = CheckboxInput()


def recurrence_fields() -> dict:
    """The unbound fields of recurring and RRULE schedules, by name."""
    return {
        "repeat": RadioField("Repeat every N", choices=REPEAT_CHOICES, default="weekly",
                             validators=[Optional()]),
        "interval": IntegerField("N (every how many)", default=1, validators=[Optional(), NumberRange(1, 366)]),
        "weekdays": MultiCheckboxField("Weekdays", coerce=int, validators=[Optional()],
                                       choices=[SelectChoice(i, n) for i, n in enumerate(WEEKDAY_NAMES)]),
        "month_day": IntegerField("Day of the month", validators=[Optional(), NumberRange(1, 31)]),
        "short_months": RadioField("In months without that day (29, 30 or 31)",
                                   choices=SHORT_MONTH_CHOICES, default="skip", validators=[Optional()]),
        "until": DateField("Last date (optional)", validators=[Optional()]),
        "count": IntegerField("Or stop after this many sends (optional)",
                              validators=[Optional(), NumberRange(1, 10000)]),
        "rrule_text": TextAreaField("RRULE", validators=[Optional()],
                                    description="For example FREQ=MONTHLY;BYDAY=2TU (every second Tuesday). "
                                                "DTSTART (with TZID=Area/City, a closing Z for UTC, or "
                                                "neither for this time zone), several RRULE, RDATE and "
                                                "EXDATE lines, UNTIL and COUNT are allowed."),
    }


def install_fields(form_class) -> None:
    """Add the recurrence fields to another form class (the wizard's WhenForm)."""
    for name, field in recurrence_fields().items():
        if not hasattr(form_class, name):
            setattr(form_class, name, field)


class ScheduleForm(FlaskForm):
    """The schedule editor of a live broadcast (and the query of the live preview)."""
    schedule = RadioField("When", choices=MODE_CHOICES, default="recurring")
    send_at_local = DateTimeLocalField("First send", format=DATETIME_FORMAT, validators=[Optional()])
    timezone = SelectField("Time zone")

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.timezone.choices = [SelectChoice(n, n.replace("_", " ")) for n in timezone_names()]
        if not self.timezone.data:
            self.timezone.data = default_timezone()

    def load(self, schedule) -> None:
        """Fill the fields from a stored Schedule."""
        for name, value in schedule_form_data(schedule).items():
            getattr(self, name).data = value


install_fields(ScheduleForm)


def schedule_form_data(schedule) -> dict:
    """The form values (wizard or editor) that describe a stored Schedule."""
    mode = schedule.kind if schedule.kind in ("once", "rrule") else "recurring"
    return {"schedule": mode, "send_at_local": schedule.start_local, "timezone": schedule.timezone,
            "repeat": schedule.kind if mode == "recurring" else "weekly", "interval": schedule.interval,
            "weekdays": list(schedule.weekdays or []), "month_day": schedule.month_day,
            "short_months": schedule.short_months or "skip",
            "until": schedule.until, "count": schedule.count, "rrule_text": schedule.rrule_text}


def spec_from_form(form) -> RuleSpec | None:
    """The RuleSpec chosen in ``form`` (None for "send now"); RuleError names the bad field."""
    mode, start, zone = form.schedule.data, form.send_at_local.data, form.timezone.data
    if mode not in ("once", "recurring", "rrule"):
        return None
    if start is None and mode != "rrule":
        raise RuleError("Choose the date and time of the first send.", "send_at_local")
    if mode == "once":
        return RuleSpec("once", zone, start)
    if mode == "rrule":
        return RuleSpec("rrule", zone, start, rrule_text=form.rrule_text.data or "")
    return RuleSpec(form.repeat.data or "weekly", zone, start, form.interval.data or 1,
                    tuple(form.weekdays.data or ()), form.month_day.data, form.until.data,
                    form.count.data, short_months=form.short_months.data or "skip")


def field_of(error: RuleError) -> str:
    """The form field a RuleError belongs to."""
    return {"start": "send_at_local", "kind": "repeat", "rule": "schedule"}.get(error.field, error.field)
