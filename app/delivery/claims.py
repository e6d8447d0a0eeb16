"""Claiming a batch of a run's ledger rows for one sending job: one SELECT returns the rows and
what each message needs, and one ``delivery_claims`` row records the batch under the job's lease
token (migration 0022); the ledger rows are written once, with their outcome.

A claimer excludes the rows of every other claim of the run, so two jobs never hold one row. On
PostgreSQL the claimers of one run are serialised only from the moment they read the other claims
for the last time until their commit, by a transaction-scoped advisory lock (``CLAIM_LOCK``, the
run's id): the batch is read before it against the claims seen so far, then checked against the
claims committed since (migration 0023: the senders' outcomes, their reads and the claim's
select no longer wait for each other; migration 0024: the lock and that read are one round trip,
``herald_lock_claims``). On SQLite the write lock ``hold`` takes before anything is
read serialises them.
"""
import json
from dataclasses import dataclass

from flask import current_app
from sqlalchemy import bindparam, delete, func, insert, literal_column, null, select, text, update

from ..core.extensions import db
from ..core.utils import utcnow
from ..mail.builder import Recipient
from ..mail.suppression import Suppression
from ..network.models import Customer, Site
from .models import Delivery, DeliveryClaim


def _site_address(place: str, base_url: str) -> str:
    """The address of a site the claim returned as its domain, or "/" and its path ("" for "/")."""
    if not place.startswith("/"):
        return Site.address(place, None, base_url)
    return Site.address(None, place, base_url) if place.strip("/") else ""


def hold(token: str):
    """Lock this job's claim row and return it (``ids``, ``claimed_at``), or None when it has none
    (no batch yet, or the reaper settled it: the job lost its rows). A write, so that on SQLite the
    transaction holds the write lock before the other claims are read."""
    table = DeliveryClaim.__table__
    return db.session.execute(update(table).where(table.c.token == token)
                              .values(claimed_at=table.c.claimed_at)
                              .returning(table.c.ids, table.c.claimed_at)).first()


_CLAIMS = DeliveryClaim.__table__
# Held from a claimer's last read of the other claims of the run to its commit (PostgreSQL): the
# advisory lock (1212437836, the run's id; 1212437836 is "HERL"), then the ids of the run's other
# claims, read after it (migration 0024).
CLAIM_LOCK = text("SELECT herald_lock_claims(:run, :token)")
# Positions in the rows of the claiming SELECT (``Claims._statement``): read by index, as a name
# costs a Row a failed attribute lookup first (~2,000 instructions; 5 a row a claim).
_ID, _NEXT_AT, _SUPPRESSED = 0, 4, 6
SKIP_READ = 500  # rows read at a time past a stretch of rows suppressed since planning
# Rows suppressed since planning one claim skips at most: then it answers nothing and sets
# ``Claims.skipping``; the caller commits and claims again (``app/delivery/recording.py``). With
# 60,000 rows suppressed at the head of a 100,000-row chunk and claims of 10, the longest claim
# transaction took 0.55 s on PostgreSQL (1,505 rows) where one transaction took 346 s for all
# (a row costs more the more rows its transaction skipped before: 6,000 took 1.7 s).
SKIP_MOST = 2_000
CLAIMS_OF_RUN = select(_CLAIMS.c.token, _CLAIMS.c.ids, _CLAIMS.c.claimed_at).where(_CLAIMS.c.run_id == bindparam("run"))


@dataclass
class Held:
    """This job's claim as read back: the batch's ids (JSON) and the claim's time."""
    ids: str
    claimed_at: object


def holding(run_id: int, token: str):
    """(this job's claim or None, the rows other claims of the run hold), once the caller holds the
    run's row (``lock_run``): on PostgreSQL one read of the run's claims (the reaper, which
    settles claims, waits for the caller's lock; other claims may be added before the caller's
    claim, which ``Claims.next`` checks again under ``CLAIM_LOCK``); on SQLite ``hold`` first,
    for the write lock."""
    if db.engine.dialect.name != "postgresql":
        return hold(token), claimed_ids(run_id, but=token)
    held, taken = None, set()
    for owner, ids, claimed_at in db.session.connection().execute(CLAIMS_OF_RUN, {"run": run_id}):
        if owner == token:
            held = Held(ids, claimed_at)
        else:
            taken.update(json.loads(ids))
    return held, taken


def release(token: str) -> None:
    """Forget this job's claim (its rows all have their outcome, or were given back untouched)."""
    db.session.execute(delete(DeliveryClaim.__table__).where(DeliveryClaim.token == token))


def locked_claimed_ids(run_id: int, token: str) -> set:
    """``CLAIM_LOCK`` taken (PostgreSQL), the rows held by the run's claims but job ``token``'s,
    read once the lock is held: every claim committed before is seen."""
    taken = set()
    for ids in db.session.connection().scalars(CLAIM_LOCK, {"run": run_id, "token": token}):
        taken.update(json.loads(ids))
    return taken


def claimed_ids(run_id: int, but: str | None = None) -> set:
    """The rows of the run held by sending jobs' claims (live or not yet reaped), but job ``but``'s."""
    taken = set()
    for ids in db.session.scalars(select(DeliveryClaim.ids).where(DeliveryClaim.run_id == run_id,
                                                                   DeliveryClaim.token != (but or ""))):
        taken.update(json.loads(ids))
    return taken


@dataclass(slots=True)
class Claimed:
    """A row this job holds (its ``attempts`` counts this one); ``previous`` is the status it was
    claimed from, and keeps in the ledger until its outcome is written."""
    recipient: Recipient
    attempts: int
    previous: str
    next_attempt_at: object = None


@dataclass
class Claims:
    """Claims rows of run ``run_id`` matching ``where`` (conditions on Delivery) for the job holding
    lease ``token``, ``size`` at a time; ``needs_site``: the messages show the customer's site."""
    run_id: int
    token: str
    size: int
    needs_site: bool
    where: list
    statement: object = None
    claimed_at: object = None  # when the last batch was claimed (naive UTC)
    skipping: bool = False  # the last ``next`` stopped at ``SKIP_MOST`` suppressed rows: not the end

    def _statement(self):
        """The claiming SELECT, built once (not per batch): the rows in id order, each with the
        customer's name, first site and any suppression added since planning (scalar subqueries);
        ``:limit`` rows at most (``_fetch``). The columns' order is what ``next`` unpacks and what
        ``_ID``, ``_NEXT_AT`` and ``_SUPPRESSED`` say."""
        return (select(Delivery.id, func.coalesce(Delivery.spelling, Delivery.email),  # sent to
                       Delivery.customer_id, Delivery.attempts, Delivery.next_attempt_at,
                       *self._personal_columns())
                .where(Delivery.run_id == self.run_id, Delivery.id > bindparam("after"), *self.where)
                .order_by(Delivery.id).limit(bindparam("limit")))

    def next(self, held=None, sending: bool = True, taken: set | None = None, keep=(),
             since=None) -> list[Claimed]:
        """Claim the next batch (none unless the run is ``sending``) and record it in this job's
        claim row (``held``: the row ``hold`` returned, None if there is none; ``taken``: the rows of
        other claims, read here when not given). ``keep`` (``Claimed`` rows, in sending order) stay
        in the claim before the new batch: the batch being sent while this one is claimed ahead;
        the new rows come after the last of them (or, once none is left there, from any row the
        claim does not hold), and the claim's time stays ``since`` (when they were claimed), so
        an empty answer means no row is left for ``where``. With no row to hold the claim row
        goes; with ``keep`` but no ``held`` (the reaper settled the claim) nothing is claimed.
        Rows suppressed since planning are skipped (``_skip_suppressed``) and the next ones read:
        an empty answer never hides rows behind a batch that was all suppressed (it ended the
        chunk's job early, the rest waiting for the supervisor). At most ``SKIP_MOST`` are skipped
        in one call: past them the answer is empty with ``skipping`` set (it is False otherwise),
        so that no transaction holds the claim lock for long; the caller commits and calls again.
        The caller holds the run's row (``lock_run``) and commits. On PostgreSQL the rows read
        against ``taken`` are checked again, under ``CLAIM_LOCK``, against the claims committed
        since."""
        rows, kept, self.skipping = [], [c.recipient.delivery_id for c in keep], False
        if sending and not (kept and held is None):
            if self.statement is None:
                self.statement = self._statement()
            if taken is None:
                taken = claimed_ids(self.run_id, but=self.token)
            after, own = max(kept, default=0), set(kept)
            exclude, size = taken | own, self.size  # own rows: only below ``after`` (a no-op) or once wrapped
            skipped = 0
            while True:  # until a row to send, or none left: a batch all suppressed is skipped
                rows = self._fetch(exclude, after, size)
                if after and len(rows) < self.size:  # the last rows above the kept ones: all, once
                    after, rows = 0, self._fetch(exclude, 0, size)
                if db.engine.dialect.name == "postgresql":
                    now_taken = locked_claimed_ids(self.run_id, self.token)
                    if any(row[_ID] in now_taken for row in rows):  # claimed meanwhile: read again
                        exclude = now_taken | own
                        rows = self._fetch(exclude, after, size)
                fetched, last, rows = len(rows), rows[-1][_ID] if rows else 0, self._skip_suppressed(rows)
                if rows or not fetched:  # the skipped rows are no longer "queued": not read again
                    break
                skipped, size = skipped + fetched, max(size, SKIP_READ)  # read on in larger steps
                # ... from past them: every row below ``last`` this read could take was in it, and
                # an index scan from lower would walk the entries of the rows just skipped again
                # (their old versions, dead only once committed): a cost per read that grew with
                # the stretch skipped
                after = max(after, last)
                if skipped + size > SKIP_MOST:  # enough for one transaction: the caller commits them
                    self.skipping = True
                    break
            rows = rows[:self.size]
        if not rows and not (kept and held is not None):
            if held is not None:
                release(self.token)
            return []
        table, self.claimed_at = DeliveryClaim.__table__, utcnow()
        values = {"ids": json.dumps(kept + [row[_ID] for row in rows]),
                  "claimed_at": since if kept and since else self.claimed_at,
                  "queued": sum(1 for c in keep if c.previous == "queued")
                  + sum(1 for row in rows if row[_NEXT_AT] is None)}
        connection = db.session.connection()  # Core statements: no ORM overhead per batch
        if held is None:
            connection.execute(insert(table).values(token=self.token, run_id=self.run_id, **values))
        else:
            connection.execute(update(table).where(table.c.token == self.token).values(**values))
        base_url, claimed = current_app.config["BASE_URL"], []
        for row_id, email, customer_id, attempts, next_at, name, _, place in rows:  # unpacking
            site = _site_address(place, base_url) if place else ""
            claimed.append(Claimed(Recipient(row_id, email, customer_id, name or "", site), attempts + 1,
                                   "deferred" if next_at else "queued", next_at))
        return claimed

    def _fetch(self, taken: set, after: int = 0, size: int | None = None) -> list:
        """The next ``size`` (the claim's size by default) rows with an id above ``after`` that
        ``taken`` (other claims', and the job's own) does not hold: fetched again with a larger
        limit only when rows of other claims came back (rare: chunks are disjoint), so a claim
        never reads the rows of all the run's claims."""
        size = size or self.size
        limit = size
        while True:
            rows = db.session.connection().execute(self.statement, {"limit": limit, "after": after}).all()
            fresh = [row for row in rows if row[_ID] not in taken]
            if len(fresh) >= size or len(rows) < limit:
                return fresh[:size]
            limit = size + len(rows) - len(fresh)

    def _personal_columns(self) -> list:
        # Correlated to the ledger row; spelled out so that ``email = email`` never compares the
        # subquery's own column.
        customer_id, email = literal_column("deliveries.customer_id"), literal_column("deliveries.email")

        # The first site's domain, or "/" and its path: one probe for both (see _site_address).
        place = func.coalesce(func.nullif(Site.domain, ""), "/" + func.coalesce(Site.path, ""))
        first_site = select(place).where(Site.customer_id == customer_id).order_by(Site.id).limit(1) \
            .scalar_subquery() if self.needs_site else null()
        return [select(Customer.name).where(Customer.id == customer_id).scalar_subquery().label("name"),
                select(Suppression.reason).where(Suppression.email == email).scalar_subquery().label("suppressed"),
                first_site.label("site")]

    def _skip_suppressed(self, rows):
        """Rows whose address was suppressed since planning are skipped, not sent."""
        suppressed = [row for row in rows if row[_SUPPRESSED]]
        if not suppressed:
            return rows
        db.session.execute(update(Delivery.__table__)
                           .where(Delivery.id == bindparam("row_id"))
                           .values(status="skipped", reason=bindparam("why")),
                           [{"row_id": row[_ID], "why": row[_SUPPRESSED]} for row in suppressed])
        return [row for row in rows if not row[_SUPPRESSED]]
