"""Small helpers shared by every domain: UTC time, date filters' ends, rows by id, e-mail, keyset pages."""
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

from sqlalchemy import String, select

from .extensions import db
from .inputs import id_or_none


def utcnow() -> datetime:
    """The current time in UTC as a naive datetime (how every timestamp is stored). Its date and
    time joined again: a third of the CPU of ``replace(tzinfo=None)``, which parses keywords (the
    send loop asks once a message)."""
    now = datetime.now(timezone.utc)
    return _combine(now.date(), now.time())


_combine = datetime.combine


def day_after(day: datetime) -> datetime | None:
    """Midnight after ``day``: the exclusive end of a date filter whose last day (inclusive) is
    ``day``. None after 9999-12-31, where no later datetime exists (``+ timedelta(days=1)``
    would raise OverflowError): such a filter has no end."""
    if day.date() == datetime.max.date():
        return None
    return _combine(day.date(), datetime.min.time()) + timedelta(days=1)


def get_row(model, value):
    """The ``model`` row whose id is ``value`` (an int or ASCII digits, from a form, a query, JSON
    or the command line), or None when there is none or ``value`` is no id (not a whole number, 0
    or less, or past ``inputs.MAX_ID``, which PostgreSQL would refuse with an error)."""
    ident = id_or_none(value)
    return None if ident is None else db.session.get(model, ident)


# A to Z only: the one case Herald folds in an address (``normalise_email``).
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


# The type of a column whose ``lower()`` is an address's key (``customers.email``, ``users.email``):
# on PostgreSQL in the "C" collation, where ``lower`` folds ASCII letters only, as SQLite's does.
ADDRESS_TYPE = String(254).with_variant(String(254, collation="C"), "postgresql")


def normalise_email(address: str) -> str:
    """An address trimmed with its ASCII letters in lower case: Herald's one definition of "the
    same address", which SQL computes alike as ``lower(email)`` (SQLite folds ASCII only;
    PostgreSQL's ``customers.email`` and ``users.email`` are ``COLLATE "C"``, where ``lower``
    folds ASCII only whatever the database's locale; migration 0025). Other letters are compared
    as written: ``ΣΙΣΥΦΟΣ@example.com`` and ``σισυφος@example.com`` are two addresses (RFC 5321
    section 2.4: a local part is case-sensitive; Unicode's case rules differ by language and
    engine, final sigma, dotted I). docs/delivery.md, "The same address: the key"."""
    address = (address or "").strip()
    return address.lower() if address.isascii() else address.translate(_ASCII_LOWER)


@dataclass
class KeysetPage:
    """One page of rows fetched by id (no OFFSET), with the cursors for the next and previous page."""
    items: list
    next_after: int | None
    prev_before: int | None


def keyset_page(query, id_column, after=None, before=None, per_page=50) -> KeysetPage:
    """Fetch one page of ``query`` ordered by ``id_column`` descending, seeking from a cursor.

    ``after`` continues below that id (older rows), ``before`` goes back above it. Stays fast on
    millions of rows because it never counts or skips rows.
    """

    if before is not None:
        rows = db.session.scalars(query.where(id_column > before)
                                  .order_by(id_column.asc()).limit(per_page + 1)).all()
        has_more_newer = len(rows) > per_page
        rows = list(reversed(rows[:per_page]))
        next_after = rows[-1].id if rows else None
        prev_before = rows[0].id if rows and has_more_newer else None
        return KeysetPage(rows, next_after, prev_before)
    if after is not None:
        query = query.where(id_column < after)
    rows = db.session.scalars(query.order_by(id_column.desc()).limit(per_page + 1)).all()
    has_more = len(rows) > per_page
    rows = rows[:per_page]
    next_after = rows[-1].id if rows and has_more else None
    prev_before = rows[0].id if rows and after is not None else None
    return KeysetPage(rows, next_after, prev_before)


__all__ = ["utcnow", "normalise_email", "KeysetPage", "keyset_page", "select"]


def without_credentials(url: str) -> str:
    """``url`` with the userinfo of its authority (RFC 3986 section 3.2.1: user and password)
    replaced by ``***``, for messages and logs; anything else comes back unchanged."""
    scheme, separator, rest = url.partition("://")
    authority, slash, path = rest.partition("/")
    if not separator or "@" not in authority:
        return url
    return f"{scheme}://***@{authority.rsplit('@', 1)[1]}{slash}{path}"
