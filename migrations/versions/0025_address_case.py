"""One definition of "the same address" in Python and in SQL: ASCII letters folded, others as written.

Python keyed addresses with ``str.lower`` (``normalise_email``) and SQL with ``lower(email)``,
which SQLite applies to ASCII letters only and PostgreSQL by the database's locale: in a C.UTF-8
database ``ΣΙΣΥΦΟΣ`` became ``σισυφοσ`` in SQL and ``σισυφος`` (final sigma) in Python, and
``İVAN`` ``ivan`` in SQL and ``i̇van`` (a combining dot) in Python. So the suppression list
(keyed in Python) missed customers (planning and the triggers key in SQL), one address was sent
twice, and a complaint stored under the ledger's key did not block system e-mails. The key is now
the address with its ASCII letters in lower case, everywhere (``core.utils.normalise_email``):
SQLite's ``lower`` already computes it, and on PostgreSQL ``customers.email`` and ``users.email``
become ``COLLATE "C"``, under which ``lower`` folds ASCII only whatever the database's locale.
Every query, index and trigger that says ``lower(email)`` of them stays as it is and now means
the same thing on both databases (docs/delivery.md, "Addresses", says why this rule).

Upgrade, PostgreSQL: the customers whose address holds a non-ASCII character (the only ones whose
key changes) are moved to an ASCII placeholder through the triggers (which take their old keys
out of ``addresses``, ``shared_addresses``, ``suppressed_customers`` and the audience counts),
the columns change collation (their indexes are rebuilt), and the addresses are written back (the
triggers file them under their new keys); in batches of 5,000 customers. Then, on both databases,
a suppression stored under an old key of a customer's non-ASCII address is copied under the new
key of that address (same reason, source and date; the strongest when several): Python's
(``σισυφος@...`` for ``ΣΙΣΥΦΟΣ@...``, as ``suppress`` stored it) and, on PostgreSQL, SQL's by the
locale (``οδυσσευσ@...`` for ``ΟΔΥΣΣΕΥΣ@...``, ``ivan@...`` for ``İVAN@...``: the ledger's key,
under which bounces and complaints were stored), so nobody suppressed before is mailed after.
Downgrade moves the columns back to the database's collation the same way; the copied
suppressions stay (removing them would mail suppressed people).
Runs planned before keep the keys they were planned with.

Revision ID: 0025_address_case
Revises: 0024_cheaper_batch_writes
"""
import sqlalchemy as sa
from alembic import op

revision = "0025_address_case"
down_revision = "0024_cheaper_batch_writes"
branch_labels = None
depends_on = None

BATCH = 5000
COLUMNS = (("customers", "email"), ("users", "email"))
_ASCII_LOWER = str.maketrans("ABCDEFGHIJKLMNOPQRSTUVWXYZ", "abcdefghijklmnopqrstuvwxyz")


def _non_ascii(bind, column: str) -> str:
    """SQL true when ``column`` holds a character past ASCII (more bytes than characters)."""
    if bind.dialect.name == "postgresql":
        return f"length({column}) <> octet_length({column})"
    return f"length({column}) <> length(CAST({column} AS BLOB))"


def _batches(bind, table: str, where: str, extra: str = ""):
    """The (id, email[, extra]) rows of ``table`` matching ``where``, BATCH at a time by id."""
    after = 0
    while True:
        rows = bind.execute(sa.text(f"SELECT id, email{extra} FROM {table} WHERE id > :after AND {where} "
                                    "ORDER BY id LIMIT :n"), {"after": after, "n": BATCH}).all()
        if not rows:
            return
        yield rows
        after = rows[-1][0]


def _collate(collation: str) -> None:
    """PostgreSQL: ``customers.email`` and ``users.email`` under ``collation``, the non-ASCII
    customers moved out through the triggers before and back after (their keys change)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return
    moved = [row for rows in _batches(bind, "customers", _non_ascii(bind, "email")) for row in rows]
    for start in range(0, len(moved), BATCH):
        ids = [ident for ident, _ in moved[start:start + BATCH]]
        bind.execute(sa.text("UPDATE customers SET email = 'herald-0025-' || id || '@moved.invalid' "
                             "WHERE id = ANY(:ids)"), {"ids": ids})
    for table, column in COLUMNS:
        op.execute(f'ALTER TABLE {table} ALTER COLUMN {column} TYPE varchar(254) COLLATE "{collation}"')
    for start in range(0, len(moved), BATCH):
        batch = moved[start:start + BATCH]
        bind.execute(sa.text("UPDATE customers c SET email = m.email "
                             "FROM unnest(CAST(:ids AS integer[]), CAST(:emails AS text[])) AS m(id, email) "
                             "WHERE c.id = m.id"),
                     {"ids": [ident for ident, _ in batch], "emails": [email for _, email in batch]})


def _old_keys() -> dict:
    """Each non-ASCII customer address's new key -> the keys it had before: Python's (``str.lower``,
    how ``suppress`` stored it) and SQL's (``lower`` by the locale on PostgreSQL, how planning, the
    ledger and so a bounce or complaint stored it). Read before the collation changes."""
    bind = op.get_bind()
    keys = {}
    for rows in _batches(bind, "customers", _non_ascii(bind, "email"), ", lower(email)"):
        for _, email, sql_key in rows:
            new = email.strip().translate(_ASCII_LOWER)
            keys.setdefault(new, set()).update({email.strip().lower(), sql_key} - {new})
    return {new: old for new, old in keys.items() if old}


def _copy_suppressions(old_keys: dict) -> None:
    """A suppression under an old key of a customer's address, copied under its new key (the
    strongest reason when several apply: complained, bounced, unsubscribed; a weaker one already
    under the new key is strengthened, as ``tracking.services.suppress`` does)."""
    bind = op.get_bind()
    strength = {"complained": 3, "bounced": 2, "unsubscribed": 1}
    pending = sorted(old_keys.items())
    for start in range(0, len(pending), BATCH):
        batch = dict(pending[start:start + BATCH])
        olds = sorted(set().union(*batch.values()))
        found = {row[0]: row for row in bind.execute(
            sa.text("SELECT email, reason, source, detail, created_at FROM suppressions WHERE email IN :keys")
            .bindparams(sa.bindparam("keys", expanding=True)), {"keys": olds + sorted(batch)})}
        for new, old in batch.items():
            rows = [found[key] for key in sorted(old) if key in found]
            if not rows:
                continue
            _, reason, source, detail, created_at = max(rows, key=lambda row: strength.get(row[1], 0))
            values = {"e": new, "reason": reason, "source": source, "detail": detail, "created_at": created_at}
            if new not in found:
                bind.execute(sa.text("INSERT INTO suppressions (email, reason, source, detail, created_at) "
                                     "VALUES (:e, :reason, :source, :detail, :created_at)"), values)
            elif strength.get(reason, 0) > strength.get(found[new][1], 0):  # as suppress() strengthens
                bind.execute(sa.text("UPDATE suppressions SET reason = :reason, source = :source, "
                                     "detail = :detail, created_at = :created_at WHERE email = :e"), values)


def upgrade():
    old_keys = _old_keys()
    _collate("C")
    _copy_suppressions(old_keys)


def downgrade():
    _collate("default")
