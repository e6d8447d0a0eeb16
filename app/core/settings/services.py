"""Network-wide settings: declared with defaults by the core and by plugins, stored as Options."""
from dataclasses import dataclass
from typing import Any

from flask import current_app

from ..extensions import db
from .models import Option


@dataclass(frozen=True)
class SettingSpec:
    """A declared setting: its key, default, label, help text, type and owner (core or plugin)."""
    key: str
    default: Any
    label: str
    help: str = ""
    type: str = "str"  # str, int, float, bool, text
    owner: str = "core"
    validate: Any = None  # optional callable(value) -> value, raising ValueError with a message


class SettingsRegistry:
    """All declared settings of one app, kept in ``app.extensions['herald_settings']``."""

    def __init__(self):
        self.specs: dict[str, SettingSpec] = {}

    def declare(self, spec: SettingSpec) -> None:
        """Declare a setting; re-declaring a key replaces its spec."""
        self.specs[spec.key] = spec


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


def set_option(key: str, value) -> None:
    """Store ``value`` for option ``key`` in the current transaction (the caller commits).

    A declared setting's value is checked by its ``validate`` first: ValueError with a message
    (nothing stored) when it is refused, so no CLI, API or plugin stores what the page refuses."""
    spec = registry().specs.get(key)
    if spec is not None:
        value = validated(spec, value)
    row = db.session.get(Option, key)
    if row is None:
        db.session.add(Option(key=key, value=value))
    else:
        row.value = value


def coerce(spec: SettingSpec, raw: str):
    """Turn a submitted form string into the setting's type (then ``spec.validate`` it, if set);
    raises ValueError with a message."""
    return validated(spec, _coerce_type(spec, raw))


def validated(spec: SettingSpec, value):
    """``value`` as ``spec.validate`` returns it (unchanged without one); ValueError whose
    message starts with the setting's label when it is refused."""
    if spec.validate is None:
        return value
    try:
        return spec.validate(value)
    except ValueError as error:
        message = str(error)
        raise ValueError(message if message.startswith(spec.label) else f"{spec.label}: {message}") from None


def _coerce_type(spec: SettingSpec, raw: str):
    raw = (raw or "").strip()
    if spec.type == "bool":
        return raw.lower() in {"1", "on", "true", "yes"}
    if spec.type == "int":
        try:
            return int(raw)
        except ValueError:
            raise ValueError(f"{spec.label} must be a whole number.") from None
    if spec.type == "float":
        try:
            return float(raw)
        except ValueError:
            raise ValueError(f"{spec.label} must be a number.") from None
    return raw
