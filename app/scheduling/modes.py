"""The wizard's recurring and RRULE schedule modes, added to the broadcasts' WHEN_MODES.

While the broadcast is a draft its schedule is a Schedule row with status "draft"; scheduling
the broadcast activates it (and turns a one-off ``send_at`` into a "once" schedule).
"""
from ..broadcasts.when import WHEN_MODES, WhenMode
from ..core.extensions import db
from ..core.wizard import StepInvalid
from .forms import field_of, schedule_form_data, spec_from_form
from .rules import RuleError
from .services import describe, save_schedule

RECURRING_KINDS = ("daily", "weekly", "monthly")


class _RuleMode(WhenMode):
    """A mode whose rule is kept in the draft's Schedule row."""

    kinds: tuple = ()

    def matches(self, draft):
        return draft.schedule is not None and draft.schedule.kind in self.kinds

    def load(self, draft):
        data = schedule_form_data(draft.schedule)
        data.pop("schedule"), data.pop("timezone")
        return data

    def changes(self, form):
        return {"send_at": None}

    def apply(self, draft, form) -> None:
        """Store the submitted rule on the draft; a bad rule is a field error."""
        try:
            spec = spec_from_form(form)
            save_schedule(draft, spec, status="draft")
        except RuleError as error:
            raise StepInvalid({field_of(error): str(error)}) from None

    def missing(self, draft, form):
        if draft.schedule is None:
            return {"send_at_local": "Choose the date and time of the first send."}
        return {}

    def describe(self, draft):
        return describe(draft.schedule)

    def clear(self, draft):
        if draft.schedule is not None and draft.schedule.kind in self.kinds:
            db.session.delete(draft.schedule)
            draft.schedule = None


class RecurringMode(_RuleMode):
    """Every N days, every N weeks on chosen weekdays, or monthly on a day."""
    name, label, kinds = "recurring", "On a recurring schedule", RECURRING_KINDS
    template = "scheduling/_recurring_fields.html"


class RRuleMode(_RuleMode):
    """An RFC 5545 rule such as FREQ=MONTHLY;BYDAY=2TU."""
    name, label, kinds = "rrule", "Advanced: an RFC 5545 RRULE", ("rrule",)
    template = "scheduling/_rrule_fields.html"


def register_modes() -> None:
    """Add the modes to the wizard (idempotent)."""
    for mode in (RecurringMode(), RRuleMode()):
        WHEN_MODES.setdefault(mode.name, mode)

