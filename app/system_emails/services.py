"""Installed versus registered e-mails: set-up, import, reset, delete, diff, edit and test sends."""
import difflib
from dataclasses import dataclass
from typing import Optional

from flask import current_app
from sqlalchemy import delete, select

from ..audit.services import changes_summary, record
from ..core.extensions import db
from ..core.inputs import clean_name
from ..core.settings.services import get_option, set_option
from ..core.utils import utcnow
from ..mail.addresses import AddressError, normalise_address
from .events import CUSTOMER_PLACEHOLDERS, event_values, fire_event, queue_delivery
from .models import SystemEmail, SystemEmailSend
from .registry import (
    AUDIENCES,
    DELAY_UNITS,
    STYLES,
    EmailDefault,
    available_defaults,
    delay_minutes,
    is_available,
    line_ends,
    registry,
)
from .rendering import TemplateProblem, check_template, render, render_subject

SETUP_OPTION = "system_emails.set_up_at"
CONTENT_FIELDS = ("subject", "body", "style", "audience")
EDITABLE_FIELDS = CONTENT_FIELDS + ("active", "copy_admins", "delay_value", "delay_unit")
MAX_DELAY_MINUTES = 366 * 1440


class ServiceError(ValueError):
    """A request that cannot be done; the message is shown to the admin."""


class ValidationFailed(ServiceError):
    """Submitted values are wrong; ``errors`` maps each field to its message."""

    def __init__(self, errors: dict):
        super().__init__("; ".join(f"{k}: {v}" for k, v in errors.items()))
        self.errors = errors


@dataclass
class EmailState:
    """An installed e-mail next to its registered default: modified, update available, in force."""
    email: SystemEmail
    default: Optional[EmailDefault]
    available: bool

    @property
    def modified(self) -> bool:
        """The admin changed the content since install or the last reset."""
        return self.email.modified

    @property
    def update_available(self) -> bool:
        """The plugin now registers another version of this e-mail's default."""
        return self.default is not None and self.default.hash != self.email.default_hash

    @property
    def differs(self) -> bool:
        """Resetting would change the content."""
        return self.default is not None and self.default.hash != self.email.hash


def email_state(email: SystemEmail) -> EmailState:
    """The state of one installed e-mail."""
    default = registry().defaults.get(email.slug)
    return EmailState(email, default, is_available(email.plugin))


def installed_states() -> list[EmailState]:
    """Every installed e-mail with its state, grouped by event then name."""
    emails = db.session.scalars(select(SystemEmail).order_by(SystemEmail.event, SystemEmail.name))
    return [email_state(email) for email in emails]


def _plugin_version(plugin) -> Optional[str]:
    info = current_app.extensions["herald_plugins"].plugins.get(plugin) if plugin else None
    return info.version if info else None


def install_default(default: EmailDefault) -> SystemEmail:
    """Create the installed copy of ``default`` (active, its delay, no copies); the caller commits."""
    email = SystemEmail(slug=default.slug, event=default.event, plugin=default.plugin, active=True,
                        copy_admins=False, delay_value=default.delay_value, delay_unit=default.delay_unit)
    _copy_content(email, default)
    db.session.add(email)
    db.session.flush()
    record("system_email.imported", email, f"installed the default of event {email.event}")
    return email


def _copy_content(email: SystemEmail, default: EmailDefault) -> None:
    for name in CONTENT_FIELDS + ("name", "description"):
        setattr(email, name, getattr(default, name))
    email.default_hash, email.default_version = default.hash, _plugin_version(default.plugin)


def importable_defaults() -> list[EmailDefault]:
    """Registered defaults (of the core and active plugins) that are not installed."""
    installed = set(db.session.scalars(select(SystemEmail.slug)))
    return sorted((d for d in available_defaults() if d.slug not in installed),
                  key=lambda d: (d.event, d.name))


def import_defaults(slugs) -> list[SystemEmail]:
    """Install the chosen registered defaults; the caller commits."""
    importable = {d.slug: d for d in importable_defaults()}
    missing = [slug for slug in slugs if slug not in importable]
    if missing:
        raise ServiceError(f"Nothing to import for {_named(missing)}: unknown, from an inactive "
                           "plugin, or already installed.")
    return [install_default(importable[slug]) for slug in slugs]


def _named(slugs, most: int = 5) -> str:
    """Slugs as a message names them: quoted, the first ``most``, each cut to 40 characters (they
    come from the request; the message travels in the session cookie)."""
    named = ", ".join(f"“{slug[:40]}”" for slug in slugs[:most])
    return named + (f" and {len(slugs) - most:,} more" if len(slugs) > most else "")


def resettable_states() -> list[EmailState]:
    """Installed e-mails whose content differs from their registered default."""
    return [s for s in installed_states() if s.available and s.differs]


def reset_email(email: SystemEmail) -> SystemEmail:
    """Put the registered default's content back; id, statistics, log and settings are kept."""
    default = registry().defaults.get(email.slug)
    if default is None or not is_available(default.plugin):
        raise ServiceError(f"{email.name} has no registered default to reset to.")
    _copy_content(email, default)
    record("system_email.reset", email, "content reset to the registered default")
    return email


def reset_emails(slugs) -> list[SystemEmail]:
    """Reset the installed e-mails ``slugs``; the caller commits."""
    emails = {e.slug: e for e in db.session.scalars(select(SystemEmail).where(SystemEmail.slug.in_(slugs)))}
    missing = [slug for slug in slugs if slug not in emails]
    if missing:
        raise ServiceError(f"No installed e-mail is called {_named(missing)}.")
    return [reset_email(emails[slug]) for slug in slugs]


def delete_email(email: SystemEmail) -> None:
    """Delete an installed e-mail with its statistics and send log; the caller commits."""
    record("system_email.deleted", email, "deleted with its statistics and send log")
    db.session.execute(delete(SystemEmailSend).where(SystemEmailSend.email_id == email.id))
    db.session.delete(email)


def diff_against_default(email: SystemEmail) -> list[tuple[str, str]]:
    """(kind, line) pairs of a unified diff from the default to the installed e-mail."""
    default = registry().defaults.get(email.slug)
    if default is None:
        return []
    old = [f"{name}: {line_ends(getattr(default, name))}" for name in ("subject", "style", "audience")]
    new = [f"{name}: {line_ends(getattr(email, name))}" for name in ("subject", "style", "audience")]
    old += ["", *_body_lines(default.body)]
    new += ["", *_body_lines(email.body)]
    lines = difflib.unified_diff(old, new, "default", "installed", lineterm="", n=3)
    kinds = {"+": "added", "-": "removed", "@": "hunk"}
    return [(kinds.get(line[:1], "same") if not line.startswith(("+++", "---")) else "file", line)
            for line in lines]


def _body_lines(body: str) -> list[str]:
    """The lines the diff compares: every difference ``content_hash`` sees shows, a missing final
    line end included (as in ``diff``)."""
    body = line_ends(body)
    lines = body.split("\n")
    if lines[-1] == "":
        return lines[:-1]
    return [*lines, "\\ No newline at end of file"]


def content_errors(event_slug: str, subject: str, body: str, style: str) -> dict:
    """{field: message} for a subject and body that cannot be saved for this event."""
    spec = registry().events.get(event_slug)
    if spec is None:
        return {"body": f"The event {event_slug!r} is not registered (is its plugin installed?)."}
    errors = {}
    for name, text, text_style in (("subject", subject, "plain"), ("body", body, style)):
        if not (text or "").strip():
            errors[name] = f"The {name} cannot be empty."
            continue
        try:
            if name == "subject":  # one line, as broadcast subjects (RFC 5322 section 2.2: no CR, LF)
                clean_name(text, "The subject", 500)
            check_template(text, spec, text_style)
        except ValueError as problem:  # TemplateProblem is one
            errors[name] = str(problem)
    return errors


def clean_changes(email: SystemEmail, data: dict) -> dict:
    """Check submitted values (from the editor or the API); raises ValidationFailed."""
    errors, clean = {}, {}
    for name, choices in (("style", STYLES), ("audience", AUDIENCES), ("delay_unit", DELAY_UNITS)):
        if name in data:
            if not isinstance(data[name], str) or data[name] not in choices:  # a list is no key
                errors[name] = f"Choose one of: {', '.join(choices)}."
            clean[name] = data[name]
    for name in ("subject", "body"):
        if name in data:
            if data[name] is not None and not isinstance(data[name], str):  # never the text of a list
                errors[name] = "Must be text."
            clean[name] = line_ends(data[name] if isinstance(data[name], str) else "")
    for name in ("active", "copy_admins"):
        if name in data:
            if not isinstance(data[name], bool):
                errors[name] = "Must be true or false."
            clean[name] = data[name]
    if "delay_value" in data:
        value = data["delay_value"]
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            errors["delay_value"] = "The delay must be a whole number, 0 or more."
        elif delay_minutes(value, clean.get("delay_unit", email.delay_unit)) > MAX_DELAY_MINUTES:
            errors["delay_value"] = "The delay cannot be longer than a year."
        clean["delay_value"] = value
    if len(clean.get("subject", "")) > 500:
        errors["subject"] = "The subject cannot be longer than 500 characters."
    if not errors.keys() & {"subject", "body", "style"}:
        merged = {name: clean.get(name, getattr(email, name)) for name in ("subject", "body", "style")}
        errors = {**content_errors(email.event, **merged), **errors}
    if errors:
        raise ValidationFailed(errors)
    return clean


def update_email(email: SystemEmail, data: dict) -> SystemEmail:
    """Apply validated changes to an installed e-mail; the caller commits."""
    changes = clean_changes(email, data)
    summary = changes_summary({name: getattr(email, name) for name in changes}, changes)
    for name, value in changes.items():
        setattr(email, name, value)
    if summary:
        record("system_email.edited", email, summary)
    return email


def preview(email: SystemEmail, subject: str, body: str, style: str) -> dict:
    """Subject and body rendered with the event's sample payload, or the template's problem."""
    spec = registry().events.get(email.event)
    errors = content_errors(email.event, subject, body, style)
    if errors:
        return {"subject": "", "body": "", "style": style, "errors": errors}
    values = event_values(spec, payload=spec.sample_payload())
    try:
        return {"subject": render_subject(subject, values), "body": render(body, values, style),
                "style": style, "errors": {}}
    except TemplateProblem as problem:  # a limit only the full values reach: shown, never a 500
        return {"subject": "", "body": "", "style": style, "errors": {"body": str(problem)}}


def send_test(email: SystemEmail, address: str, subject=None, body=None, style=None,
              enqueue=True) -> SystemEmailSend:
    """Log a test of ``email`` (or of unsaved content) to ``address`` with the sample payload.

    Adds a ``system_email.test_sent`` audit entry; the caller commits. The delivery is enqueued
    after the commit unless ``enqueue`` is False (the caller then runs
    ``jobs.deliver_send`` itself, as `flask emails test` does).
    """
    try:
        address = normalise_address(address)  # as spelled (events.spelled); compared in lower case
    except AddressError as error:
        raise ValidationFailed({"test_address": "Enter the e-mail address the test goes to. "
                                                f"{error}"}) from None
    style = style or email.style
    rendered = preview(email, subject or email.subject, body or email.body, style)
    if rendered["errors"]:
        raise ValidationFailed(rendered["errors"])
    send = SystemEmailSend(email_id=email.id, event=email.event, role="test", recipient=address,
                           style=style, subject=rendered["subject"], body=rendered["body"],
                           scheduled_for=utcnow())
    db.session.add(send)
    db.session.flush()
    record("system_email.test_sent", email, f"to {address}")
    if enqueue:
        queue_delivery(send)
    return send


def fire_event_by_hand(event_slug: str, customer) -> list[SystemEmailSend]:
    """Fire an event for a chosen customer with the event's sample data (to test); the caller commits."""
    spec = registry().events.get(event_slug)
    if spec is None or not is_available(spec.plugin):
        raise ServiceError(f"There is no active event {event_slug!r}.")
    sample = {k: v for k, v in spec.sample_payload().items() if k not in CUSTOMER_PLACEHOLDERS}
    record("system_event.fired", ("system_event", event_slug, spec.name if hasattr(spec, "name") else ""),
           f"fired by hand for {getattr(customer, 'email', customer)} with sample data")
    return fire_event(event_slug, customer=customer, **sample)


def install_defaults_once() -> list[SystemEmail]:
    """Install every default e-mail of the active plugins, once per network (the caller commits).

    Afterwards, defaults registered later (a plugin activated later, a new version) are never
    added silently: they wait on the Reset & Import page. Returns the e-mails installed.
    """
    if get_option(SETUP_OPTION):
        return []
    installed = [install_default(default) for default in importable_defaults()]
    set_option(SETUP_OPTION, utcnow().isoformat(timespec="seconds"))
    return installed
