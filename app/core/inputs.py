"""The limits of every request: body size, JSON depth and text, ids, whole numbers and list caps."""
import builtins
import json
import math
import re
import unicodedata

from flask import abort, request
from flask_wtf import FlaskForm
from flask_wtf.form import _Auto
from werkzeug.datastructures import CombinedMultiDict
from werkzeug.routing import IntegerConverter

# One reader for each kind of input, used by every API module and admin page, so that a bad value
# is a 4xx with a message (never a 500, never seconds of work): read_json_object() for JSON
# bodies and json_fields() for the names and JSON types of their fields,
# whole_number()/parse_id()/query_int()/query_cursor() for numbers and ids, check_query() for
# the names and choices of a list's query arguments, id_list() and check_cap() for lists (the
# cap checked before any work), IdConverter for ids in URLs, and refuse_bad_text() for NUL
# characters in query and form values.
MAX_ID = 2**31 - 1  # ids are PostgreSQL ``integer`` columns
MAX_INT = 2**63 - 1  # any other whole number (a 64-bit column or setting)
MAX_JSON_BYTES = 1_000_000
MAX_JSON_DEPTH = 32
MAX_JSON_NODES = 100_000  # values in one body (list items, object members)
MAX_CONTENT_LENGTH = 25 * 1024 * 1024  # any request: the CSV import (20 MB) is the largest
MAX_FORM_MEMORY_SIZE = 2 * 1024 * 1024  # one form field held in memory (a 200,000-character body)
# A URL-encoded form body: the largest form (a system e-mail: a 200,000-character template and its
# subject) is 2.4 MB when every character is a 4-byte one and each byte is written %XX; decoding
# costs about 0.15 s per MB, so 6 MB stays far below a second where the 25 MB cap took several.
MAX_FORM_BYTES = 6 * 1024 * 1024
_DIGITS = re.compile(r"[0-9]{1,19}")
_SIGNED = re.compile(r"[+-]?[0-9]+")
_BAD_TEXT = re.compile("[\x00\ud800-\udfff]")
# Control characters (C0, DEL, C1), Unicode line and paragraph separators, the bidirectional
# embeddings and overrides (U+202A-U+202E, which make "exe.txt" read "txt.exe"), the isolates
# (U+2066-U+2069, which reorder text as well) and lone surrogates: none belongs in a one-line
# name, and CR/LF in a name would reach an e-mail header.
_CONTROL = re.compile("[\x00-\x1f\x7f-\x9f\u2028\u2029\u202a-\u202e\u2066-\u2069\ud800-\udfff]")
# What ``escape_controls`` writes visibly: C0 and C1 controls and DEL (ECMA-48: they start
# terminal escape sequences; PostgreSQL stores no NUL), the bidirectional overrides and isolates
# (they reorder what a terminal or page shows) and lone surrogates (no UTF-8 encodes them).
_UNSAFE = re.compile("[\x00-\x1f\x7f-\x9f\u202a-\u202e\u2066-\u2069\ud800-\udfff]")


def _escape(match) -> str:
    code = ord(match.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def escape_controls(text, keep_newlines: bool = False) -> str:
    """``text`` (any value, made a str) with every character ``_UNSAFE`` names written as a
    visible escape (``\\x00``, ``\\x1b``, ``\\u202e``): for text from outside (an SMTP server's
    reply, a bounce, a webhook) that is stored, shown or printed, so it can neither fail the
    database (NUL, a lone surrogate) nor move a terminal's cursor. ``keep_newlines`` keeps line
    feeds (a multiline reply, a traceback). The same text always gives the same result."""
    text = str(text)
    if _UNSAFE.search(text) is None:  # nearly always: no copy
        return text
    if keep_newlines:
        return "\n".join(_UNSAFE.sub(_escape, line) for line in text.split("\n"))
    return _UNSAFE.sub(_escape, text)


class IdConverter(IntegerConverter):
    """``<int:name>`` in every route: 1-10 ASCII digits, from 0 to ``MAX_ID``; anything else
    (a 30-digit id, Unicode digits) matches no route, so it answers 404."""
    regex = r"[0-9]{1,10}"

    def __init__(self, map, fixed_digits=0, min=0, max=MAX_ID, signed=False):
        super().__init__(map, fixed_digits=fixed_digits, min=min,
                         max=MAX_ID if max is None else builtins.min(max, MAX_ID), signed=False)


def install(app) -> None:
    """Set the request size limits (and the smaller one of URL-encoded forms) and the ``int`` URL converter of ``app`` (before any route is
    added), refuse NUL characters in query and form values before every request, and keep JSON
    bodies out of forms."""
    FlaskForm.Meta.wrap_formdata = form_data_only
    app.config.setdefault("MAX_CONTENT_LENGTH", MAX_CONTENT_LENGTH)
    app.config.setdefault("MAX_FORM_MEMORY_SIZE", MAX_FORM_MEMORY_SIZE)
    app.url_map.converters["int"] = IdConverter
    app.before_request(limit_form_body)
    app.before_request(refuse_bad_text)


def limit_form_body():
    """Lower the size limit of a URL-encoded form body to ``MAX_FORM_BYTES`` (413 past it, before
    any of it is read): werkzeug decodes such a body whole, without the per-field memory limit
    multipart bodies have (``MAX_FORM_MEMORY_SIZE``), at about 0.15 s of CPU per MB."""
    if request.mimetype == "application/x-www-form-urlencoded":
        limit = request.max_content_length
        request.max_content_length = MAX_FORM_BYTES if limit is None else min(limit, MAX_FORM_BYTES)


def form_data_only(meta, form, formdata):
    """Flask-WTF's form data without its JSON fallback: a form reads a form body (or files), never
    a JSON body. Flask-WTF would build the form from ``request.get_json()``, where an array or a
    string is a 500 and an object's values are lists and objects no field expects; JSON is for the
    routes that read it with ``read_json_object``."""
    if formdata is not _Auto:
        return formdata
    if request.method not in ("POST", "PUT", "PATCH", "DELETE"):
        return None
    return CombinedMultiDict((request.files, request.form)) if request.files else (request.form or None)


def refuse_bad_text():
    """400 when a query argument or form value holds a NUL character (or a lone surrogate)."""
    if request.mimetype == "application/x-www-form-urlencoded":
        request.get_data(cache=True)  # parse the form from a cached copy: a signed body stays readable
    sources = [request.args] + ([request.form] if request.method not in ("GET", "HEAD") else [])
    for source in sources:
        for key, value in source.items(multi=True):
            if _BAD_TEXT.search(key) or _BAD_TEXT.search(value):
                abort(400, f"The value of {key!r} holds a character that is not allowed (NUL).")
    return None


def _no_constant(name):
    raise ValueError(f"{name} is not a JSON number")


def _bounded_int(text):
    if len(text.lstrip("-")) > 19:
        raise ValueError(f"the number {text[:20]}… has more than 19 digits")
    return int(text)


def _finite_float(text):
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"the number {text[:20]} is too large (not a finite number)")
    return value


def strict_loads(raw):
    """``json.loads`` refusing NaN, Infinity, numbers that overflow to infinity (1e309) and
    integers of more than 19 digits, with ValueError: values the database cannot store as JSON."""
    return json.loads(raw, parse_constant=_no_constant, parse_int=_bounded_int,
                      parse_float=_finite_float)


def read_json_object() -> dict:
    """The request's JSON object (an empty body is ``{}``).

    413 when the body is larger than ``MAX_JSON_BYTES``; 415 when a body is sent with another
    Content-Type than ``application/json`` (or ``…+json``; a body without one is read as JSON);
    400 when it is not a JSON object, is
    nested deeper than ``MAX_JSON_DEPTH``, has more than ``MAX_JSON_NODES`` values, a number of
    more than 19 digits, NaN or Infinity, or text with a lone surrogate or a NUL character.
    """
    if (request.content_length or 0) > MAX_JSON_BYTES:
        abort(413, f"The JSON body is larger than {MAX_JSON_BYTES:,} bytes.")
    raw = request.get_data(cache=True)
    if len(raw) > MAX_JSON_BYTES:
        abort(413, f"The JSON body is larger than {MAX_JSON_BYTES:,} bytes.")
    if not raw.strip():
        return {}
    if request.mimetype and not request.is_json:  # no Content-Type at all is read as JSON
        abort(415, "Send the body as JSON with the header Content-Type: application/json "
                   f"(this request says {(request.mimetype or 'nothing')[:100]!r}).")
    try:
        data = strict_loads(raw)
    except RecursionError:
        abort(400, f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep.")
    except ValueError as error:  # JSONDecodeError, UnicodeDecodeError, the hooks' refusals
        abort(400, f"The body is not valid JSON ({error}).")
    problem = json_problem(data)  # first: a body too deep is refused as such, whatever its shape
    if problem:
        abort(400, problem)
    if not isinstance(data, dict):
        abort(400, "The body must be a JSON object (Content-Type: application/json).")
    return data


class FieldError(ValueError):
    """A field of a JSON body that is unknown or of the wrong type; ``field`` names it."""

    def __init__(self, field: str, message: str):
        super().__init__(f"{field}: {message}")
        self.field, self.message = field, message


_TYPE_NAMES = {str: "text", int: "a whole number", float: "a number", bool: "true or false",
               list: "a list", dict: "an object", type(None): "null"}


def json_fields(data: dict, fields: dict, what: str = "this body") -> dict:
    """``data`` (a JSON object) when each key is one of ``fields`` and its value has one of the
    JSON types ``fields[key]`` lists (``str``, ``int``, ``float``, ``bool``, ``list``, ``dict``,
    ``None``; ``int`` never admits true/false, ``float`` admits whole numbers); FieldError naming
    the first key that is unknown or of another type. Every JSON endpoint checks its body with it
    before any code that expects text or a number sees a value: a list where text belongs is a
    400 that says so, never a 500 or text made of the list. FieldError needs no handling in a
    view: ``core.errors`` answers it with a JSON 400 (``error``, ``field`` and ``fields``).
    ``what`` names the object in the message of an unknown field (a webhook's "an event")."""
    for key, value in data.items():
        if key not in fields:
            raise FieldError(key[:40], f"Unknown field; {what} takes: {', '.join(fields)}." if fields
                             else "Unknown field; this request takes no fields (send no body, or {}).")
        allowed = tuple(type(None) if kind is None else kind for kind in fields[key])
        kind = type(value)
        if kind is int and float in allowed:
            continue
        if kind not in allowed:
            wanted = " or ".join(_TYPE_NAMES[k] for k in allowed)
            raise FieldError(key, f"Must be {wanted} (got {json_type(value)}).")
    return data


def json_problem(data, text: bool = True) -> str | None:
    """Why decoded JSON ``data`` is refused (too deep, too many values, bad text unless ``text``
    is False), or None; walks it without recursion."""
    stack, count = [(data, 1)], 0
    while stack:
        value, depth = stack.pop()
        count += 1
        if depth > MAX_JSON_DEPTH:
            return f"The JSON body is nested more than {MAX_JSON_DEPTH} levels deep."
        if count > MAX_JSON_NODES:
            return f"The JSON body holds more than {MAX_JSON_NODES:,} values."
        if isinstance(value, dict):
            for key, item in value.items():
                if text and _BAD_TEXT.search(key):
                    return "A key holds a character that is not allowed (a lone surrogate or NUL)."
                stack.append((item, depth + 1))
        elif isinstance(value, list):
            stack.extend((item, depth + 1) for item in value)
        elif text and isinstance(value, str) and _BAD_TEXT.search(value):
            return "A text value holds a character that is not allowed (a lone surrogate or NUL)."
    return None


def whole_number(value, label: str, minimum: int = 0, maximum: int = MAX_INT) -> int:
    """``value`` (an int, not a bool, or a string of ASCII digits) as an int within
    [``minimum``, ``maximum``]; ValueError naming ``label`` otherwise."""
    if isinstance(value, str) and _SIGNED.fullmatch(value.strip()):
        text = value.strip().lstrip("+-").lstrip("0") or "0"
        if len(text) > 19:  # a whole number all the same, only out of range (no huge int is made)
            raise ValueError(f"{label} must be between {minimum:,} and {maximum:,}.")
        value = int(value.strip())
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{label} must be a whole number.")
    if not minimum <= value <= maximum:
        raise ValueError(f"{label} must be between {minimum:,} and {maximum:,}.")
    return value


def digits(text) -> int | None:
    """The whole number written by ``text`` in 1-19 ASCII digits, else None ("²", "1e3",
    a 30-digit number): what ``str.isdigit() and int()`` did without their traps."""
    return int(text) if isinstance(text, str) and _DIGITS.fullmatch(text) else None


def id_or_none(value) -> int | None:
    """``value`` (ASCII digits, or an int that is not a bool) as a database id (1 to MAX_ID), or
    None when it is anything else: a number past MAX_ID is no row's id (PostgreSQL's ``integer``
    column would answer it with an error, not with no row)."""
    number = value if isinstance(value, int) and not isinstance(value, bool) else digits(value)
    return number if number is not None and 1 <= number <= MAX_ID else None


def parse_id(value, label: str = "An id") -> int:
    """A database id: 1 to ``MAX_ID``; ValueError with a message otherwise."""
    return whole_number(value, label, 1, MAX_ID)


def query_int(name: str, default=None, minimum: int = 0, maximum: int = MAX_INT):
    """Query argument ``name`` as a whole number in [``minimum``, ``maximum``], ``default`` when
    absent or empty; 400 with a message otherwise (cursors and ids use ``maximum=MAX_ID``)."""
    value = request.args.get(name)
    if value is None or value == "":
        return default
    try:
        return whole_number(value, f"The query argument {name!r}", minimum, maximum)
    except ValueError as error:
        abort(400, str(error))


def check_query(allowed: dict) -> None:
    """400 naming the argument unless every query argument is a name of ``allowed`` given once
    with, where ``allowed[name]`` lists the values (a tuple), one of them (or empty); None allows
    any text. For the API's lists: a filter they do not know (``?stauts=sent``) or a value none
    of their rows has (``?status=canceled``) would otherwise answer everything with 200."""
    for name in request.args:
        if name not in allowed:
            abort(400, f"Unknown query argument {name[:40]!r}; this list takes: {', '.join(allowed)}.")
        values = request.args.getlist(name)
        if len(values) > 1:
            abort(400, f"The query argument {name!r} is given {len(values)} times; give it once.")
        choices = allowed[name]
        if choices is not None and values[0] != "" and values[0] not in choices:
            abort(400, f"The query argument {name!r} must be one of: {', '.join(choices)} "
                       f"(got {values[0][:40]!r}).")


def unknown_choices(choices: dict) -> dict:
    """{argument: message} for each query argument of ``choices`` ({name: the values it takes})
    given a value none of them: an HTML list says so (with a 400) and lists as if the argument
    were absent, rather than quietly listing everything or nothing (the API's lists refuse the
    request instead, ``check_query``)."""
    return {name: f"No {name} is called “{request.args[name][:40]}”; showing every {name}."
            for name, values in choices.items() if request.args.get(name) and request.args[name] not in values}


def query_cursor(name: str):
    """A keyset cursor (an id) from the query string, or None; 400 when it is not an id."""
    return query_int(name, None, 0, MAX_ID)


def id_list(value, label: str, cap: int, text: bool = True) -> list[int]:
    """A list of ids, de-duplicated in order; ValueError when it is not a list, holds more than
    ``cap`` items (checked first, before any parsing) or holds something that is not an id.
    ``text``: items may be ASCII digits (form values); else only whole numbers (JSON)."""
    if value is None:
        return []
    if not isinstance(value, (list, tuple)):
        raise ValueError(f"{label} must be a list of ids.")
    check_cap(value, label, cap)
    ids = {}
    for item in value:
        if not text and (isinstance(item, bool) or not isinstance(item, int)):
            raise ValueError(f"{str(item)[:40]!r} is not a valid id: ids are whole numbers (1, not \"1\").")
        try:
            ids[parse_id(item)] = None
        except ValueError:
            raise ValueError(f"{str(item)[:40]!r} is not a valid id.") from None
    return list(ids)


def check_cap(items, label: str, cap: int) -> None:
    """ValueError when ``items`` holds more than ``cap`` entries."""
    if len(items) > cap:
        raise ValueError(f"{label}: at most {cap:,} items (got {len(items):,}).")


def clean_text(value, label: str = "The text", max_length: int | None = None) -> str:
    """Text of any number of lines, as given; ValueError naming ``label`` when it is not text, is
    longer than ``max_length`` or holds what no database or UTF-8 stores (NUL, a lone
    surrogate: what ``refuse_bad_text`` refuses in a request)."""
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text.")
    if max_length is not None and len(value) > max_length:
        raise ValueError(f"{label} is too long (at most {max_length:,} characters).")
    if _BAD_TEXT.search(value):
        raise ValueError(f"{label} holds a NUL or a lone surrogate, which cannot be stored.")
    return value


def clean_name(value, label: str = "The name", max_length: int = 200) -> str:
    """A one-line name, as typed (spaces kept: a blank first name gets its fallback); ValueError
    naming ``label`` when it is not text, is longer than ``max_length`` or holds a control
    character (NUL, CR, LF, tab …) or a lone surrogate."""
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text.")
    bad = _CONTROL.search(value)
    if bad:
        raise ValueError(f"{label} holds a character that is not allowed (U+{ord(bad.group()):04X}, a "
                         "control character such as NUL, CR or LF); use one line of plain text.")
    if len(value) > max_length:
        raise ValueError(f"{label} is too long (at most {max_length} characters).")
    return value


# Blank however they are drawn: control and format characters (U+200B, U+202E), separators,
# combining marks with nothing to combine with, and letters and symbols that print as blanks
# (Hangul fillers, the braille blank).
_INVISIBLE_CATEGORIES = ("Cc", "Cf", "Zs", "Zl", "Zp", "Mn", "Me")
_BLANK_CHARACTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def visible(text: str) -> bool:
    """True when ``text`` holds a character that shows: a name of blanks alone is no name."""
    return any(character not in _BLANK_CHARACTERS and unicodedata.category(character) not in _INVISIBLE_CATEGORIES
               for character in text)


def json_type(value) -> str:
    """The JSON name of ``value``'s type, for messages: text, a number, true/false, a list …"""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, str):
        return "text"
    return "a list" if isinstance(value, (list, tuple)) else "an object"
