"""The errors of schedule rules and the bounds on expanding them (steps, occurrences, seconds)."""
import time

from flask import current_app, g, has_app_context, has_request_context

MAX_STEPS = 5_000  # months (years for FREQ=YEARLY) one expansion may walk through
MAX_YIELDS = 100_000  # occurrences one expansion may generate, before or after the cursor
MAX_SECONDS = 1.0  # wall-clock time one expansion may take (config SCHEDULE_EXPANSION_SECONDS);
# in a web request, all the expansions of that request together (checking, spacing, preview)


class RuleError(ValueError):
    """A schedule that cannot be used; ``field`` names the form field the message belongs to."""

    def __init__(self, message, field="rule"):
        super().__init__(message)
        self.field = field


class ExpansionLimit(RuleError):
    """Expanding the rule hit a bound (steps or occurrences); the message says which and why."""


class ExpansionTimeout(ExpansionLimit):
    """Expanding the rule took longer than its time bound (the machine may just be busy)."""


class Budget:
    """What one expansion may still spend: months walked, occurrences generated, seconds.

    ``step()`` is called for every month (year) a rule's walk enters and ``spend()`` for every
    occurrence generated (kept or not); past ``steps`` or ``yields`` they raise ExpansionLimit,
    past ``seconds`` ExpansionTimeout. ``seconds`` defaults to the app's
    ``SCHEDULE_EXPANSION_SECONDS`` (else ``MAX_SECONDS``). In a web request the deadline is
    shared by every expansion of that request, so the answer comes within about ``seconds``
    however many times a save checks, spaces and previews the rule.
    """

    def __init__(self, steps: int = MAX_STEPS, yields: int = MAX_YIELDS,
                 seconds: float | None = None, field: str = "rule"):
        if seconds is None:
            seconds = float(current_app.config.get("SCHEDULE_EXPANSION_SECONDS", MAX_SECONDS)
                            if has_app_context() else MAX_SECONDS)
        self.steps, self.left, self.field = steps, yields, field
        self.deadline = time.monotonic() + seconds
        if has_request_context():
            self.deadline = g.setdefault("schedule_expansion_deadline", self.deadline)
        self.seconds = seconds

    def step(self) -> None:
        """Count one month (year) walked; raise past the step bound or the deadline."""
        self.steps -= 1
        if self.steps < 0:
            raise ExpansionLimit(f"No next send was found within {MAX_STEPS:,} months (years for "
                                 "FREQ=YEARLY) of walking this rule: it starts too early for a "
                                 "COUNT, or its BY parts rarely or never match a date. Use a "
                                 "later DTSTART or fewer conditions.", self.field)
        self.check_time()

    def spend(self) -> None:
        """Count one generated occurrence; raise when a bound is passed."""
        self.left -= 1
        if self.left < 0:
            raise ExpansionLimit(f"This rule generates more than {MAX_YIELDS:,} occurrences before "
                                 "the next send; use a coarser FREQ or fewer BY values.", self.field)
        if self.left % 256 == 0 and time.monotonic() > self.deadline:
            self.timeout()

    def timeout(self) -> None:
        """Raise ExpansionTimeout (also called between rules)."""
        raise ExpansionTimeout(f"Working out this rule's sends took more than {self.seconds:g} "
                               "seconds; simplify the rule (a later DTSTART, a coarser FREQ).",
                               self.field)

    def check_time(self) -> None:
        """Raise ExpansionTimeout when the deadline has passed."""
        if time.monotonic() > self.deadline:
            self.timeout()
