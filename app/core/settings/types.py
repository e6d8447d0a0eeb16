"""Setting types: a submitted form string becomes a typed value, and typed values are checked."""
import ipaddress
import math
import re
from urllib.parse import urlsplit

from email_validator import EmailNotValidError, validate_email

from ..hostnames import HostNameError, check_address, host_name
from ..inputs import visible

TYPES = ("str", "text", "int", "float", "bool", "choice", "email", "url", "host", "secret")
TEXT_TYPES = ("str", "text", "choice", "email", "url", "host", "secret")
TRUE_WORDS = {"1", "on", "true", "yes"}
# ASCII digits only: int() and float() also read "٣" (Arabic-Indic three), "1_000", "nan", "inf"
INT_RE = re.compile(r"[+-]?[0-9]{1,30}")
FLOAT_RE = re.compile(r"[+-]?(?:[0-9]{1,30}(?:\.[0-9]{0,30})?|\.[0-9]{1,30})(?:[eE][+-]?[0-9]{1,3})?")
MAX_HOST = 253  # RFC 1035 section 2.3.4 (a name of 255 octets on the wire: 253 characters)
MAX_URL = 2048
# Characters a text setting holds unless ``max`` says otherwise: a one-line ``str`` (a name that may
# reach an e-mail header, RFC 5322 section 2.1.1 keeps a line under 998), several lines of ``text``,
# a ``secret`` (a key or a password). ``email`` (254) and ``url`` (2,048) have their own.
MAX_LENGTH = {"str": 500, "text": 20_000, "secret": 4_096}
# One-line texts hold no control character, line or paragraph separator; several lines of ``text``
# may hold line breaks and tabs, nothing else of C0/C1.
_NOT_IN_LINE = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e]")
_NOT_IN_TEXT = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f]")


def _ip_address(host: str) -> bool:
    try:
        ipaddress.ip_address(host)
    except ValueError:
        return False
    return True


def check_url(value: str, label: str) -> None:
    """ValueError naming ``label`` unless ``value`` is a full http(s) URL whose host is an IP
    address or a host name ``core.hostnames.host_name`` takes (one label allowed: localhost), of
    at most ``MAX_HOST`` characters and ``MAX_URL`` in all: url settings and BASE_URL."""
    try:
        parts = urlsplit(value)
        host = parts.hostname or ""
    except ValueError:
        parts, host = None, ""
    if parts is None or parts.scheme not in ("http", "https") or not host or " " in value:
        raise ValueError(f"{label} must be a full http:// or https:// address.")
    if len(host) > MAX_HOST or len(value) > MAX_URL:
        raise ValueError(f"{label} is too long: at most {MAX_HOST} characters for the host "
                         f"name (RFC 1035) and {MAX_URL} for the address.")
    if not _ip_address(host):
        try:
            host_name(host, f"The host name of {label}", need_dot=False)
        except HostNameError as error:
            raise ValueError(str(error)) from None


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
        pattern = INT_RE if spec.type == "int" else FLOAT_RE
        if not pattern.fullmatch(raw):
            word = "a whole number" if spec.type == "int" else "a number"
            raise ValueError(f"{spec.label} must be {word}.")
        return check(spec, int(raw) if spec.type == "int" else float(raw))
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
    if kind == "float" and not math.isfinite(value):
        raise ValueError(f"{spec.label} must be a finite number (not NaN or infinity).")
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
    limit = spec.max if spec.max is not None and spec.type in MAX_LENGTH else MAX_LENGTH.get(spec.type)
    if limit is not None and len(value) > limit:
        raise ValueError(f"{spec.label} is too long: at most {limit:,} characters (this one has {len(value):,}).")
    bad = (_NOT_IN_TEXT if spec.type == "text" else _NOT_IN_LINE).search(value)
    if bad:
        lines = "several lines of text" if spec.type == "text" else "one line of text"
        raise ValueError(f"{spec.label} holds a character that is not allowed (U+{ord(bad.group()):04X}, a "
                         f"control character or line break); use {lines}.")
    if spec.required and not visible(value):
        raise ValueError(f"{spec.label} is required." + (" Invisible characters alone do not count."
                                                         if value else ""))
    if not value and spec.type != "choice":
        return value
    if spec.type == "choice" and value not in [v for v, _ in choice_pairs(spec)]:
        options = ", ".join(str(label) for _, label in choice_pairs(spec))
        raise ValueError(f"{spec.label} must be one of: {options}.")
    if spec.type == "email":
        try:
            checked = validate_email(value, check_deliverability=False)
            check_address(checked.local_part, checked.domain)  # as mail.addresses.normalise_address
        except (EmailNotValidError, HostNameError) as error:
            raise ValueError(f"{spec.label} is not a valid e-mail address: {error}") from None
        return checked.normalized
    if spec.type == "host":  # the one domain check (core.hostnames), stored as A-labels
        try:
            return host_name(value, spec.label)
        except HostNameError as error:
            raise ValueError(str(error)) from None
    if spec.type == "url":
        check_url(value, spec.label)
    return value
