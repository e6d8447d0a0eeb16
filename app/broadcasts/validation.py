"""Checking and cleaning the fields of a broadcast draft; the wizard and the API share these rules.

Each cleaner takes a submitted value and returns the value to store, or raises ValueError with a
message for the person who typed it.
"""
from datetime import datetime

from sqlalchemy import select

from ..core.extensions import db
from ..core.content_limits import check_content
from ..core.inputs import check_cap, clean_name, id_list, json_type, visible
from ..core.timezones import is_timezone
from ..core.utils import utcnow
from ..mail.addresses import normalise_address
from ..mail.placeholders import PlaceholderError
from ..network.models import MEMBERSHIP_STATUSES, Customer, Product
from .content import sanitize_html
from .models import KINDS, NOTICE_TYPES
from .rendering import check_body, check_subject

MAX_DIRECT_CUSTOMERS = 10_000
MAX_LABELS = 20
MAX_PRODUCTS = 1_000
MAX_BODY = 200_000


def _text(value, label, max_length, single_line=True) -> str:
    if value is None:
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{label} must be text.")
    value = value.strip()
    if len(value) > max_length:
        raise ValueError(f"{label} is too long (at most {max_length} characters).")
    if single_line:
        try:
            clean_name(value, label, max_length)  # no line break, control character or separator
        except ValueError:
            raise ValueError(f"{label} must be on one line, without control characters.") from None
    return value


def clean_kind(value):
    """``notice`` or ``email``."""
    if value is not None and not isinstance(value, str):
        raise ValueError(f'Must be the text "notice" or "email" (got {json_type(value)}).')
    if value not in KINDS:
        raise ValueError("Choose Notice or Email.")
    return value


def clean_subject(value):
    """One line of plain text following the placeholder grammar, with known placeholders."""
    value = _text(value, "The subject", 300)
    check_subject(value)
    return value


def clean_body(value):
    """Sanitised HTML; its placeholders follow the grammar, are known and stand where no value
    can inject code (``rendering.check_body``). The typed HTML is checked, so positions are the
    author's; the sanitised HTML again, in case removing markup joined braces into a placeholder.
    The limits of ``core.content_limits`` (nesting depth, placeholders) are checked first, in one
    linear pass: sanitising costs more than linearly in the nesting depth."""
    value = _text(value, "The message", MAX_BODY, single_line=False)
    check_content(value)
    check_body(value)
    clean = sanitize_html(value)
    if len(clean) > MAX_BODY:  # the sanitiser writes out what the browser would build
        raise ValueError(f"Once sanitised, the message is {len(clean):,} characters long; at most "
                         f"{MAX_BODY:,} are allowed (it writes a bare & as &amp; and a < in text as &lt;, and "
                         "closes the elements you leave open).")
    try:
        check_body(clean)
    except PlaceholderError as error:
        raise ValueError(f"Once unsafe markup is removed, line {error.line}, column {error.column}: "
                         f"{error.message}") from None
    return clean


def clean_notice_type(value):
    """One of info, success, warning, error."""
    if value not in NOTICE_TYPES:
        raise ValueError("Choose info, success, warning or error.")
    return value


def clean_bool(value):
    """A real boolean (the API must not send "false" as a truthy string)."""
    if not isinstance(value, bool):
        raise ValueError("Must be true or false.")
    return value


def clean_future_datetime(value):
    """None, or a naive UTC datetime in the future."""
    if value is None:
        return None
    if not isinstance(value, datetime):
        raise ValueError("Must be a date and time.")
    if value <= utcnow():
        raise ValueError("This date and time has passed; choose one in the future.")
    return value


def _existing(model, ids) -> set[int]:
    found = set()
    for start in range(0, len(ids), 1000):
        found.update(db.session.scalars(select(model.id).where(model.id.in_(ids[start:start + 1000]))))
    return found


def clean_customer_ids(value):
    """Ids of existing customers (at most MAX_DIRECT_CUSTOMERS; larger audiences use products)."""
    if isinstance(value, (list, tuple)) and len(value) > MAX_DIRECT_CUSTOMERS:
        raise ValueError(f"At most {MAX_DIRECT_CUSTOMERS:,} customers can be picked one by one; "
                         "target a product for larger audiences.")
    ids = id_list(value, "Customers", MAX_DIRECT_CUSTOMERS, text=False)
    missing = sorted(set(ids) - _existing(Customer, ids))
    if missing:
        raise ValueError("Unknown customer id(s): " + ", ".join(map(str, missing[:10])) + ".")
    return ids


def clean_product_ids(value):
    """Ids of existing products (at most MAX_PRODUCTS)."""
    ids = id_list(value, "Products", MAX_PRODUCTS, text=False)
    missing = sorted(set(ids) - _existing(Product, ids))
    if missing:
        raise ValueError("Unknown product id(s): " + ", ".join(map(str, missing[:10])) + ".")
    return ids


def clean_product_statuses(value):
    """A non-empty subset of the membership statuses, in their usual order."""
    if not isinstance(value, (list, tuple)) or not value:
        raise ValueError("Choose at least one membership status.")
    check_cap(value, "Membership statuses", len(MEMBERSHIP_STATUSES))
    unknown = [s for s in value if not isinstance(s, str) or s not in MEMBERSHIP_STATUSES]
    if unknown:
        raise ValueError(f"Unknown membership status {unknown[0]!r}; known: "
                         + ", ".join(MEMBERSHIP_STATUSES) + ".")
    return [s for s in MEMBERSHIP_STATUSES if s in value]


def clean_labels(value):
    """A list of labels (the API's), or comma-separated text (the wizard's field), trimmed, without
    duplicates. Text may have empty pieces ("news, ,ops", a trailing comma), which name no label;
    in a list every item is meant as a label, so an empty or blank one is refused, as any other
    item that is no label (a number, null) is, rather than left out quietly."""
    from_text = isinstance(value, str)
    if from_text:
        value = value.split(",")
    if not isinstance(value, (list, tuple)):
        raise ValueError("Labels must be a list of words.")
    check_cap(value, "Labels", MAX_LABELS * 5)
    labels, seen = [], set()
    for raw in value:
        if not isinstance(raw, str):  # a null or a number is no label, not one left out quietly
            raise ValueError(f"Each label must be text (got {json_type(raw)}).")
        label = " ".join(_text(raw, "A label", 64).split())
        if not label and not from_text:
            raise ValueError(f"A label cannot be empty or blank (got {raw[:64]!r}); "
                             "leave it out of the list.")
        if label and not visible(label):
            raise ValueError(f"A label needs a character that shows (got {label!r}).")
        if label and label.lower() not in seen:
            seen.add(label.lower())
            labels.append(label)
    if len(labels) > MAX_LABELS:
        raise ValueError(f"At most {MAX_LABELS} labels.")
    return labels


def clean_from_name(value):
    """An optional sender name (one line)."""
    return _text(value, "The sender name", 200) or None


def clean_reply_to(value):
    """An optional e-mail address, normalised (``mail.addresses.normalise_address``)."""
    value = _text(value, "The reply-to address", 254)
    return normalise_address(value) if value else None


def clean_timezone(value):
    """An IANA time zone name such as Europe/Amsterdam."""
    if not isinstance(value, str) or not is_timezone(value):
        raise ValueError(f"{str(value)[:64]!r} is not a known time zone (use a name like Europe/Amsterdam).")
    return value


CLEANERS = {
    "kind": clean_kind, "subject": clean_subject, "body_html": clean_body,
    "notice_type": clean_notice_type, "dismissible": clean_bool, "ends_at": clean_future_datetime,
    "customer_ids": clean_customer_ids, "product_ids": clean_product_ids,
    "product_statuses": clean_product_statuses, "labels": clean_labels,
    "from_name": clean_from_name, "reply_to": clean_reply_to, "track_opens": clean_bool,
    "track_clicks": clean_bool, "timezone": clean_timezone, "send_at": clean_future_datetime,
}


def clean_changes(changes: dict) -> tuple[dict, dict]:
    """``(clean, errors)`` for a dict of submitted draft fields."""
    clean, errors = {}, {}
    for key, value in changes.items():
        cleaner = CLEANERS.get(key)
        if cleaner is None:
            errors[key] = "Unknown field."
            continue
        try:
            clean[key] = cleaner(value)
        except ValueError as error:
            errors[key] = str(error)
    return clean, errors
