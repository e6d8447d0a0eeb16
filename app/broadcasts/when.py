"""The when modes of the wizard's "When" step: send now, or once at a date and time.

Each mode is a small object: its label, the template fragment with its fields, how it reads the
draft into the form, how it turns the form into draft changes, and how it describes itself. The
scheduling domain adds recurring and RRULE modes by registering more of them in WHEN_MODES
(their forms' extra fields go on ``WhenForm``).
"""
from ..core.timezones import local_to_utc, utc_to_local
from ..core.wizard import StepInvalid


class WhenMode:
    """One way of choosing when a broadcast goes out."""

    name = ""
    label = ""
    template = ""  # a fragment included under the mode's radio button (may be "")

    def matches(self, draft) -> bool:
        """True when the draft is scheduled this way."""
        return False

    def load(self, draft) -> dict:
        """The form fields of this mode read from the draft."""
        return {}

    def changes(self, form) -> dict:
        """Draft changes for the submitted form (raise StepInvalid for a wrong value)."""
        return {}

    def missing(self, draft, form) -> dict:
        """What is still needed before the next step ({form field: message})."""
        return {}

    def describe(self, draft) -> str:
        """One line for the review and the broadcast page."""
        return ""

    def apply(self, draft, form) -> None:
        """Store settings kept outside the draft's own columns (after ``changes`` applied)."""

    def clear(self, draft) -> None:
        """Forget this mode's settings because the draft now uses another mode."""


class SendNow(WhenMode):
    """As soon as the admin presses Send."""

    name = "now"
    label = "As soon as I press Send"

    def matches(self, draft):
        return draft.send_at is None

    def changes(self, form):
        return {"send_at": None}

    def describe(self, draft):
        return "Sent as soon as you press Send"


class SendOnce(WhenMode):
    """Once, at a date and time in the chosen time zone (stored in UTC with the zone)."""

    name = "once"
    label = "Once, at a date and time"
    template = "broadcasts/wizard/schedule_once.html"

    def matches(self, draft):
        return draft.send_at is not None

    def load(self, draft):
        return {"send_at_local": utc_to_local(draft.send_at, draft.timezone)}

    def changes(self, form):
        local = form.send_at_local.data
        if local is None:
            return {"send_at": None}
        try:
            return {"send_at": local_to_utc(local, form.timezone.data)}
        except ValueError as error:
            raise StepInvalid({"send_at_local": str(error)}) from None

    def missing(self, draft, form):
        if draft.send_at is None:
            return {"send_at_local": "Choose the date and time to send it."}
        return {}

    def clear(self, draft):
        draft.send_at = None

    def describe(self, draft):
        local = utc_to_local(draft.send_at, draft.timezone)
        return f"Once, on {local:%A %d %B %Y at %H:%M} ({draft.timezone})"


WHEN_MODES = {mode.name: mode for mode in (SendNow(), SendOnce())}


def is_scheduled(draft) -> bool:
    """True when the draft goes out later (any mode but "now")."""
    return mode_of(draft).name != "now"


def mode_of(draft) -> WhenMode:
    """The when mode the draft currently uses (the last one that matches wins)."""
    found = WHEN_MODES["now"]
    for mode in WHEN_MODES.values():
        if mode.matches(draft):
            found = mode
    return found
