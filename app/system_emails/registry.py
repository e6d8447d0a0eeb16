"""The registry of system-email events and default e-mails that plugins (and the core) register."""
import hashlib
import json
import re
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Callable, Optional

from flask import current_app

from ..core.inputs import clean_name, clean_text
from .budget import MAX_SOURCE
from .rendering import TemplateProblem, check_template

AUDIENCES = {"customer": "The customer", "admins": "The network admins",
             "both": "The customer and the network admins"}
STYLES = {"html": "HTML", "plain": "Plain text"}
DELAY_UNITS = {"minutes": 1, "hours": 60, "days": 1440}
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,99}$")
DELAY_RE = re.compile(r"^\s*(\d+)\s*(m|min|mins|minutes?|h|hours?|d|days?)\s*$", re.I)
# Placeholders every event offers, whatever its own payload.
GLOBAL_PLACEHOLDERS = {"network_name": "The network's name",
                       "network_url": "The network's address"}


class RegistrationError(ValueError):
    """A plugin registered an event or e-mail wrongly; the message says what to fix."""


def parse_delay(delay) -> tuple[int, str]:
    """Turn ``delay`` (minutes as int, a timedelta, ``"3 days"`` or ``(3, "days")``) into (value, unit)."""
    if delay in (None, 0, ""):
        return 0, "minutes"
    if isinstance(delay, timedelta):
        minutes = int(delay.total_seconds() // 60)
        unit = next(u for u in ("days", "hours", "minutes") if minutes % DELAY_UNITS[u] == 0)
        return minutes // DELAY_UNITS[unit], unit
    if isinstance(delay, int) and not isinstance(delay, bool) and delay >= 0:
        return delay, "minutes"
    if isinstance(delay, tuple) and len(delay) == 2 and delay[1] in DELAY_UNITS:
        return int(delay[0]), delay[1]
    match = DELAY_RE.match(str(delay))
    if not match:
        raise RegistrationError(f"delay {delay!r} is not understood: use minutes (int), a timedelta, "
                                "'3 days', '2 hours' or '30 minutes'")
    unit = {"m": "minutes", "h": "hours", "d": "days"}[match.group(2)[0].lower()]
    return int(match.group(1)), unit


def delay_minutes(value: int, unit: str) -> int:
    """The delay (value, unit) in minutes."""
    return int(value or 0) * DELAY_UNITS.get(unit, 1)


def line_ends(text: str) -> str:
    """``text`` with LF line ends: a browser sends a textarea back with CRLF (HTML's form
    submission rules), which is no change to an e-mail."""
    return (text or "").replace("\r\n", "\n").replace("\r", "\n")


def content_hash(subject: str, body: str, style: str, audience: str) -> str:
    """A fingerprint of an e-mail's content, to tell 'modified' and 'update available' apart.
    Line ends do not count (``line_ends``); the diff against the default compares the same text,
    so 'modified' and 'the diff shows changes' always agree. Text with LF line ends hashes as
    before this rule, so fingerprints stored earlier stay valid."""
    raw = json.dumps([line_ends(subject), line_ends(body), style, audience], ensure_ascii=False)
    return hashlib.sha256(raw.encode()).hexdigest()


@dataclass
class EventSpec:
    """An event that sends system e-mails: its payload keys (placeholders) and a sample payload."""
    slug: str
    name: str
    description: str = ""
    payload_keys: dict = field(default_factory=dict)  # key -> description
    sample: object = None  # a dict, or a callable returning one (built from mock records)
    plugin: Optional[str] = None

    @property
    def placeholders(self) -> dict:
        """Every placeholder an e-mail of this event may use, with its description."""
        return {**self.payload_keys, **GLOBAL_PLACEHOLDERS}

    def sample_payload(self) -> dict:
        """The sample payload (every key present) used for previews and test sends."""
        sample = self.sample() if callable(self.sample) else self.sample
        return {**{key: f"[{key}]" for key in self.payload_keys}, **(sample or {})}


@dataclass
class EmailDefault:
    """A default system e-mail as a plugin registered it; installed e-mails are copies of these."""
    slug: str
    event: str
    audience: str
    subject: str
    body: str
    name: str
    description: str = ""
    style: str = "html"
    delay_value: int = 0
    delay_unit: str = "minutes"
    plugin: Optional[str] = None

    @property
    def hash(self) -> str:
        """The content fingerprint of this default."""
        return content_hash(self.subject, self.body, self.style, self.audience)


class SystemEmailRegistry:
    """Events and default e-mails of one app (``app.extensions['herald_system_emails']``)."""

    def __init__(self):
        self.events: dict[str, EventSpec] = {}
        self.defaults: dict[str, EmailDefault] = {}
        self.on_event_registered: Optional[Callable[[EventSpec], None]] = None

    def register_event(self, slug, name, description="", payload_keys=None, sample_payload=None,
                       plugin=None) -> EventSpec:
        """Register event ``slug``; ``payload_keys`` is a list of names or a {name: description} dict."""
        _check_slug(slug, "event")
        _check_texts(f"event {slug}", name=name, description=description)
        keys = payload_keys or {}
        if not isinstance(keys, dict):
            keys = {key: "" for key in keys}
        for key in keys:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", key):
                raise RegistrationError(f"event {slug}: payload key {key!r} is not a valid name")
        _check_unclaimed(self.events, slug, plugin, "event")
        spec = EventSpec(slug, name, description, dict(keys), sample_payload, plugin)
        self.events[slug] = spec
        if self.on_event_registered:
            self.on_event_registered(spec)
        return spec

    def register_email(self, slug, event, audience, subject, body, name, description="",
                       style="html", delay=0, plugin=None) -> EmailDefault:
        """Register a default e-mail sent on ``event``; its placeholders are checked against the event."""
        _check_slug(slug, "system e-mail")
        _check_texts(f"system e-mail {slug}", name=name, description=description, subject=subject, body=body)
        if event not in self.events:
            raise RegistrationError(f"system e-mail {slug}: register event {event!r} first")
        if audience not in AUDIENCES:
            raise RegistrationError(f"system e-mail {slug}: audience must be one of {', '.join(AUDIENCES)}")
        if style not in STYLES:
            raise RegistrationError(f"system e-mail {slug}: style must be 'html' or 'plain'")
        _check_unclaimed(self.defaults, slug, plugin, "system e-mail")

        for label, text in (("subject", subject), ("body", body)):
            try:
                check_template(text, self.events[event], style if label == "body" else "plain")
            except TemplateProblem as problem:
                raise RegistrationError(f"system e-mail {slug}, {label}: {problem}") from None
        value, unit = parse_delay(delay)
        default = EmailDefault(slug, event, audience, subject, body, name, description, style,
                               value, unit, plugin)
        self.defaults[slug] = default
        return default

    def remove_plugin(self, plugin: str) -> None:
        """Drop every event and default ``plugin`` registered (its setup failed): their slugs are
        free again and nothing of it is offered for import."""
        for table in (self.events, self.defaults):
            for slug in [slug for slug, entry in table.items() if entry.plugin == plugin]:
                del table[slug]

    def defaults_of(self, event: str) -> list[EmailDefault]:
        """The defaults registered for ``event``."""
        return [d for d in self.defaults.values() if d.event == event]


# The texts a registration stores (``SystemEmail``'s columns): (one line?, most characters)
_TEXTS = {"name": (True, 200), "description": (True, 500), "subject": (True, 500), "body": (False, MAX_SOURCE)}


def _check_texts(what: str, **texts) -> None:
    """RegistrationError naming ``what`` and the field when a text a registration stores is not
    a str, is too long for its column, or holds what the column cannot store (NUL, a lone
    surrogate) or a one-line field cannot hold (a control character): said at registration,
    where the plugin's author sees it, not as a database error when an admin imports it."""
    for label, value in texts.items():
        one_line, most = _TEXTS[label]
        try:
            (clean_name if one_line else clean_text)(value, label, most)
        except ValueError as error:
            raise RegistrationError(f"{what}: {error}") from None


def _check_unclaimed(registered: dict, slug: str, plugin: Optional[str], what: str) -> None:
    """RegistrationError when ``slug`` is in ``registered`` (events or defaults) already: by
    another plugin (the first to register keeps it: bundled plugins are set up first), or by
    ``plugin`` itself (a second registration would silently replace the first)."""
    if slug not in registered:
        return
    owner = registered[slug].plugin
    if owner == plugin:
        raise RegistrationError(f"{what} {slug!r} is registered twice by {plugin or 'the core'}: "
                                "register each slug once")
    raise RegistrationError(f"{what} {slug!r} is already registered by {owner or 'the core'}")


def _check_slug(slug, what):
    if not isinstance(slug, str) or not SLUG_RE.match(slug):
        raise RegistrationError(f"{what} slug {slug!r} must be lower-case letters, digits and _")


def registry() -> SystemEmailRegistry:
    """The current app's system-email registry."""
    return current_app.extensions["herald_system_emails"]


def is_available(owner: Optional[str]) -> bool:
    """True when a registration of ``owner`` (a plugin slug, or None for the core) is in force."""
    return owner is None or current_app.extensions["herald_plugins"].is_active(owner)


def available_events() -> list[EventSpec]:
    """Events of the core and of active plugins, by name."""
    return sorted((e for e in registry().events.values() if is_available(e.plugin)),
                  key=lambda e: e.name.lower())


def available_defaults() -> list[EmailDefault]:
    """Default e-mails of the core and of active plugins."""
    return [d for d in registry().defaults.values() if is_available(d.plugin)]
