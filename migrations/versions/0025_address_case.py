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
Then, on PostgreSQL, the ledger rows of runs planned before (any status) are re-keyed: a row whose
spelling (the address its message went to) holds a non-ASCII character gets that spelling's new
key, so a run still sending checks the suppressions under today's keys (ΣΙΣΥΦΟΣ, unsubscribed
before, was mailed: the check looked for ``σισυφοσ@``) and a bounce of an older message
suppresses the customer it went to (review F items 2 and 3; bounces take the address sent to
anyway, ``tracking.ledger.find_delivery``).

Downgrade first refuses, changing nothing, when users' addresses distinct today are one under the
locale (``ΣΙΣΥΦΟΣ@`` and ``σισυφοσ@``: 0024's unique index ``uq_users_email_lower`` could not be
built); the message names them. Then it moves the columns back to the database's collation the
same way; the copied suppressions stay (removing them would mail suppressed people), and so do
the ledger's new keys (under the old rule two of them may be one key: not mergeable). Known: a
downgrade then an upgrade copies again, so a suppression stored after the first upgrade under a
key that is another customer's old key (``σισυφοσ@`` of ``ΣΙΣΥΦΟΣ@``) is copied to that customer
too: over-suppression only; which suppressions predate the first upgrade is not recorded, and not
copying from a key some customer has now would miss ΣΙΣΥΦΟΣ's own complaint stored there before.

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


def _rekey_ledger() -> None:
    """PostgreSQL: each ledger row planned before (any run, finished or not) under today's key of
    the address its message goes or went to. Planning keyed a row by ``lower(email)`` by the
    locale and kept the customer's own spelling beside it when it differed; only a spelling with a
    non-ASCII character has another key now (``ΟΔΥΣΣΕΥΣ@``: ``οδυσσευσ@`` -> ``ΟΔΥΣΣΕΥΣ@``;
    ``İVAN@``: ``ivan@`` -> ``İvan@``), a row without one already has it. A run still sending then
    checks the suppressions (copied under the new keys) at the key they are under, and a bounce of
    its messages suppresses that key. Keys only split under the new rule (equal new keys had equal
    old ones), so no two rows of a run can get one key; a row whose new key its run already holds
    would be left as it is. BATCH rows at a time by id."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's lower() folded ASCII only: its ledgers hold today's keys
    after = 0
    while True:
        ids = bind.execute(sa.text("SELECT id FROM deliveries WHERE id > :after AND spelling IS NOT NULL "
                                   "AND length(spelling) <> octet_length(spelling) ORDER BY id LIMIT :n"),
                           {"after": after, "n": BATCH}).scalars().all()
        if not ids:
            return
        bind.execute(sa.text(
            'UPDATE deliveries d SET email = k.key, spelling = nullif(d.spelling, k.key) '
            'FROM (SELECT id, lower(spelling COLLATE "C") COLLATE "default" AS key FROM deliveries '
            '      WHERE id = ANY(:ids)) AS k '
            'WHERE d.id = k.id AND d.email <> k.key '
            'AND NOT EXISTS (SELECT 1 FROM deliveries o WHERE o.run_id = d.run_id AND o.email = k.key)'),
            {"ids": ids})
        after = ids[-1]


def _refuse_merged_users() -> None:
    """PostgreSQL: stop the downgrade, before it changes anything, when users' addresses that are
    distinct today are one under the database's locale: 0024's unique index ``uq_users_email_lower``
    could not be rebuilt (``ΣΙΣΥΦΟΣ@`` and ``σισυφοσ@``, both accepted since 0025)."""
    bind = op.get_bind()
    if bind.dialect.name != "postgresql":
        return  # SQLite's lower() is the same before and after
    groups = bind.execute(sa.text('SELECT string_agg(email, \', \' ORDER BY id) FROM users '
                                  'GROUP BY lower(email COLLATE "default") HAVING count(*) > 1 ORDER BY 1')
                          ).scalars().all()
    if groups:
        import click
        raise click.ClickException(
            "cannot downgrade below 0025_address_case: these users' addresses are distinct now but one "
            "address under the database's locale, which revision 0024 allows once (unique index "
            f"uq_users_email_lower): {'; '.join(groups)}. Give all but one user of each group another "
            "address (or delete them) and run the downgrade again. Nothing was changed.")


def upgrade():
    old_keys = _old_keys()
    _collate("C")
    _copy_suppressions(old_keys)
    _rekey_ledger()


def downgrade():
    _refuse_merged_users()
    _collate("default")
