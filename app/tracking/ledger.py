"""Read-only access to the delivery engine's ``deliveries`` ledger.

The ledger belongs to the delivery domain; tracking only reads it, to match a bounce to the
delivery and run it came from, and reads its live counters to count sends for the report.
"""
import re
from dataclasses import dataclass

from sqlalchemy import Table, func, select

from ..core.extensions import db
from ..core.inputs import MAX_ID
from ..delivery.models import Delivery
from ..delivery.progress import sent_per_hour, status_counts
from ..mail.message_ids import is_own_shape, tagger
from ..mail.verp import delivery_id_from_token


@dataclass(frozen=True)
class DeliveryRef:
    """What tracking needs to know about one delivery (one recipient of one run)."""
    id: int
    run_id: int
    email: str  # the address the message went to (the ledger's spelling, else its key)
    message_id: str | None = None


def deliveries_table() -> Table | None:
    """The delivery engine's ``deliveries`` table (tracking only reads it)."""

    return Delivery.__table__


def bare_message_id(value: str | None) -> str | None:
    """A Message-ID without angle brackets or spaces, or None when there is none or it cannot be
    one: RFC 5322 section 3.6.4 makes it printable ASCII (``_MESSAGE_ID``), and the ledger's
    column holds 255 characters, so a NUL or a 10,000-character value from a bounce or a webhook
    matches nothing instead of failing the lookup."""
    value = ("" if value is None else str(value)).strip().strip("<>").strip()
    return value if value and _MESSAGE_ID.fullmatch(value) else None


_MESSAGE_ID = re.compile(r"[\x21-\x7e]{1,255}")


def find_delivery(message_id: str | None = None, verp_token: str | None = None) -> DeliveryRef | None:
    """The delivery a bounce is about, by VERP token (checked signature) or original Message-ID.

    ``verp_token`` is the part after ``+`` in a VERP return path (``app.mail.verp``), tried
    first; ``message_id`` (with or without brackets) when there is no valid token. A Message-ID
    of Herald's shape (``herald.<run>.<delivery>.<tag>@...``, ``app.mail.message_ids``) matches
    only when its tag holds, in any case: an untagged one (guessed, or from before tags) or a
    forged tag matches nothing. Other ids must equal the stored one exactly.
    """

    table = deliveries_table()
    if table is None:
        return None
    where = None
    delivery_id = delivery_id_from_token(verp_token) if verp_token else None
    if delivery_id is not None:
        where = table.c.id == delivery_id
    elif bare_message_id(message_id) and "message_id" in table.c:
        bare = bare_message_id(message_id)
        own = tagger().verified(bare)
        if own is None and is_own_shape(bare):
            return None  # Herald's shape without a valid tag: guessable, so never trusted
        if own is not None and max(own) > MAX_ID:
            return None
        # Herald's own ids name their delivery: found by it whatever case a provider wrote the id
        # in (RFC 5322 leaves the domain's case free), then checked against the stored id
        where = (table.c.id == own[1]) & (table.c.run_id == own[0]) if own \
            else table.c.message_id.in_([bare, f"<{bare}>"])
    if where is None:
        return None
    # the address the message went to, not the ledger's key: a run planned before migration 0025
    # keyed ΟΔΥΣΣΕΥΣ@ as οδυσσευσ@ and İVAN@ as ivan@ (PostgreSQL's locale lower), keys that are
    # no customer's or another customer's now; the caller keys the address by today's rule
    columns = [table.c.id, table.c.run_id, func.coalesce(table.c.spelling, table.c.email)]
    columns.append(table.c.message_id if "message_id" in table.c else None)
    row = db.session.execute(select(*[c for c in columns if c is not None]).where(where)
                             .limit(1)).first()
    if row is None:
        return None
    stored = row[3] if len(row) > 3 else None
    if delivery_id is None and (stored is not None or own is None) \
            and (stored or "").strip("<>").lower() != bare.lower():
        return None  # not this delivery's id (a verified tag with no id stored yet is: a report
        # can come back before the send's outcome is written)
    return DeliveryRef(row[0], row[1], row[2], stored)


def sent_count(run_id: int) -> int:
    """How many messages of ``run_id`` the ledger says were sent (its live counter)."""
    return status_counts(run_id)["sent"]


def sends_per_hour(run_id: int) -> dict:
    """{UTC hour: messages of ``run_id`` sent in it} (the ledger's live counters)."""
    return sent_per_hour(run_id)
