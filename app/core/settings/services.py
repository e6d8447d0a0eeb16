"""Network-wide settings: declared with defaults by the core and by plugins, stored as Options."""
import json
from dataclasses import dataclass
from typing import Any

from flask import current_app
from sqlalchemy import select

from ..extensions import db
from .models import Option
from .types import TYPES, check, coerce  # noqa: F401 - coerce is part of this module's API


@dataclass(frozen=True)
class SettingSpec:
    """A declared setting: its key, default, label, help text, type and owner (core or plugin).

    ``type`` is one of ``types.TYPES``: str, text, int, float, bool, choice (``choices``: values
    or (value, label) pairs), email, url, host (a domain name, checked by ``core.hostnames.host_name``
    and stored as A-labels) or secret (never shown back; a blank field keeps it).
    ``min``/``max`` bound numbers, and ``max`` the length of a str, text or secret (else
    ``types.MAX_LENGTH``); ``required`` refuses an empty text.
    """
    key: str
    default: Any
    label: str
    help: str = ""
    type: str = "str"
    owner: str = "core"
    validate: Any = None  # optional callable(value) -> value, raising ValueError with a message
    choices: tuple = ()
    min: Any = None
    max: Any = None
    required: bool = False


class SettingsRegistry:
    """All declared settings of one app, kept in ``app.extensions['herald_settings']``."""

    def __init__(self):
        self.specs: dict[str, SettingSpec] = {}

    def declare(self, spec: SettingSpec) -> None:
        """Declare a setting; re-declaring a key replaces its spec.

        Raises ValueError for an unknown type or a default the setting's own checks refuse."""
        if spec.type not in TYPES:
            raise ValueError(f"setting {spec.key}: unknown type {spec.type!r} (one of {', '.join(TYPES)})")
        if spec.default not in ("", None) or spec.type in ("bool", "choice"):
            try:
                check(spec, spec.default)
            except ValueError as error:
                raise ValueError(f"setting {spec.key}: the default is refused: {error}") from None
        self.specs[spec.key] = spec

    def owned_by(self, owner: str) -> list[SettingSpec]:
        """The settings of ``owner`` (a plugin slug, or "core"), in declaration order."""
        return [spec for spec in self.specs.values() if spec.owner == owner]


def registry() -> SettingsRegistry:
    """The current app's settings registry."""
    return current_app.extensions["herald_settings"]


def declare_setting(key, default, label, help="", type="str", owner="core") -> None:
    """Declare a core setting with its default."""
    registry().declare(SettingSpec(key, default, label, help, type, owner))


def get_option(key: str, default=None):
    """The stored value of option ``key``, else the declared default, else ``default``."""
    row = db.session.get(Option, key)
    if row is not None:
        return row.value
    spec = registry().specs.get(key)
    return spec.default if spec is not None else default


def stored_problems() -> list[tuple[str, str]]:
    """(key, reason) for each stored option that its declared setting refuses now: a value saved
    before a rule came (a rate of 0, a ``cname_target`` that is no host name). ``flask check``
    lists them; nothing is rewritten (an admin saves the setting again)."""
    specs = registry().specs
    problems = []
    for row in db.session.scalars(select(Option).where(Option.key.in_(list(specs))).order_by(Option.key)):
        try:
            check(specs[row.key], row.value)
        except ValueError as error:
            problems.append((row.key, str(error)))
    return problems


def set_option(key: str, value) -> None:
    """Store ``value`` for option ``key`` in the current transaction (the caller commits).

    A declared setting's value is checked first (``types.check``: its type, bounds and
    ``validate``): ValueError with a message (nothing stored) when it is refused, so no CLI, API
    or plugin stores what the Settings page refuses."""
    spec = registry().specs.get(key)
    if spec is not None:
        value = check(spec, value)
    try:  # NaN and infinity are not JSON: SQLite would store them, PostgreSQL refuses them
        json.dumps(value, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{key}: the value cannot be stored ({error}).") from None
    row = db.session.get(Option, key)
    if row is None:
        db.session.add(Option(key=key, value=value))
    else:
        row.value = value
