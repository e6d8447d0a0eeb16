"""Setting types: a submitted form string becomes a typed value, and typed values are checked."""
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

TYPES = ("str", "text", "int", "float", "bool", "choice", "email", "url", "secret")
TEXT_TYPES = ("str", "text", "choice", "email", "url", "secret")
TRUE_WORDS = {"1", "on", "true", "yes"}


def choice_pairs(spec) -> list[tuple]:
    """The (value, label) pairs of a choice setting; plain values are their own label."""
    return [tuple(c) if isinstance(c, (tuple, list)) else (c, str(c)) for c in spec.choices]


def coerce(spec, raw: str):
    """Turn a submitted form string into the setting's type, then ``check`` it.

    Raises ValueError with a message naming the setting."""
    raw = (raw or "").strip()
    if spec.type == "bool":
        return check(spec, raw.lower() in TRUE_WORDS)
    if spec.type in ("int", "float"):
        try:
            value = int(raw) if spec.type == "int" else float(raw)
        except ValueError:
            word = "a whole number" if spec.type == "int" else "a number"
            raise ValueError(f"{spec.label} must be {word}.") from None
        return check(spec, value)
    return check(spec, raw)


def check(spec, value):
    """``value`` when it is valid for ``spec`` (e-mail addresses normalised), else ValueError.

    Checks the type, ``min``/``max`` of numbers, ``required`` and the form of texts, the
    choices, e-mail addresses and http(s) URLs, then ``spec.validate`` when set."""
    kind = spec.type
    if kind == "bool" and not isinstance(value, bool):
        raise ValueError(f"{spec.label} must be on or off.")
    if kind == "int" and (isinstance(value, bool) or not isinstance(value, int)):
        raise ValueError(f"{spec.label} must be a whole number.")
    if kind == "float" and (isinstance(value, bool) or not isinstance(value, (int, float))):
        raise ValueError(f"{spec.label} must be a number.")
    if kind in ("int", "float"):
        _check_range(spec, value)
    if kind in TEXT_TYPES:
        value = _check_text(spec, value)
    return spec.validate(value) if spec.validate is not None else value


def _check_range(spec, value):
    if spec.min is not None and value < spec.min:
        raise ValueError(f"{spec.label} must be at least {spec.min}.")
    if spec.max is not None and value > spec.max:
        raise ValueError(f"{spec.label} must be at most {spec.max}.")


def _check_text(spec, value):
    if not isinstance(value, str):
        raise ValueError(f"{spec.label} must be text.")
    if not value:
        if spec.required:
            raise ValueError(f"{spec.label} is required.")
        if spec.type != "choice":
            return value
    if spec.type == "choice" and value not in [v for v, _ in choice_pairs(spec)]:
        options = ", ".join(str(label) for _, label in choice_pairs(spec))
        raise ValueError(f"{spec.label} must be one of: {options}.")
    if spec.type == "email":
        try:
            return validate_email(value, check_deliverability=False).normalized
        except EmailNotValidError as error:
            raise ValueError(f"{spec.label} is not a valid e-mail address: {error}") from None
    if spec.type == "url":
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc or " " in value:
            raise ValueError(f"{spec.label} must be a full http:// or https:// address.")
    return value
