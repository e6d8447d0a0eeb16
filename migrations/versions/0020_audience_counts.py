"""Membership combinations: an audience count that reads no membership (issue 14 §6).

A *combination* is a set of (product, status) pairs, kept as a text ``key``
(``"3:active,7:expired"``) in ``membership_combos`` with its pairs in ``membership_combo_items``.
Each customer with memberships has one (``customer_combos``, with whether another customer uses
its address, ``sharer``); ``membership_combo_counts`` holds the customers and sharers of each.
Each *flagged* address (used by more than one customer, or suppressed and used) has the union of
its customers' pairs (``address_reach``); ``address_combo_counts`` holds, per combination, the
shared addresses (kind ``shared``) and the suppressed ones (kind = the reason). A targeting of
products and statuses reaches a customer, or an address, exactly when its combination holds one
of the targeted pairs, so an audience count is a sum over the combinations that intersect it:
13,884 customer combinations for the 1,000,000 customers of bench.scale.

Every trigger calls one idempotent sync of some customers and addresses (re-read from
``customers``, ``memberships`` and ``suppressions`` by index probes; the customers of the given
addresses are synced too, their ``sharer`` may change): so any number of rows per statement,
cascaded deletes, expiry (a status update), address changes and suppressions are one code path.
On PostgreSQL the sync first locks the given customers' rows (FOR NO KEY UPDATE, which the
memberships' foreign-key checks do not wait for), then the addresses' rows (``addresses``, on
which 0016 serialises customer and suppression writers), each in key order: writers of one
customer or address take turns and read what the other committed. New combinations are created
with ON CONFLICT DO NOTHING. Counts are kept in 16 slots per backend, as ``membership_counts``.
The sync's plans are generic (planned once per connection, index probes only): re-planning
custom plans at every call cost about 1 ms more backend CPU per one-row write (bench.reach).

Revision ID: 0020_audience_counts
Revises: 0019_plugin_suspensions
"""
import sqlalchemy as sa
from alembic import op

revision = "0020_audience_counts"
down_revision = "0019_plugin_suspensions"
branch_labels = None
depends_on = None

SLOTS = 16
PG_PAIR = "(m.product_id::text || ':' || m.status) COLLATE \"C\""
PG_KEY = f"SELECT string_agg(DISTINCT {PG_PAIR}, ',' ORDER BY {PG_PAIR}) FROM memberships m"
SQLITE_PAIR = "(m.product_id || ':' || m.status)"
COMBO_IDS = """
CREATE FUNCTION herald_combo_ids(keys text[]) RETURNS int[] LANGUAGE plpgsql
SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$
BEGIN
  WITH added AS (INSERT INTO membership_combos (key) SELECT DISTINCT k FROM unnest(keys) k WHERE k IS NOT NULL
                 ORDER BY k ON CONFLICT (key) DO NOTHING RETURNING id, key)
    INSERT INTO membership_combo_items (combo_id, product_id, status)
    SELECT a.id, split_part(p, ':', 1)::int, substr(p, strpos(p, ':') + 1)
    FROM added a CROSS JOIN LATERAL unnest(string_to_array(a.key, ',')) p;
  RETURN ARRAY(SELECT coalesce((SELECT id FROM membership_combos WHERE key = d.k), 0)
               FROM unnest(keys) WITH ORDINALITY d(k, o) ORDER BY d.o);
END $$
"""
SYNC = f"""
CREATE FUNCTION herald_reach(ids int[], emails text[]) RETURNS void LANGUAGE plpgsql
SET enable_seqscan = off SET plan_cache_mode = force_generic_plan AS $$
DECLARE keys text[]; sharers boolean[]; news int[]; olds int[]; old_sharers boolean[];
        reasons text[]; shared boolean[]; old_reasons text[]; old_shared boolean[];
BEGIN
  ids := ARRAY(SELECT DISTINCT i FROM unnest(ids) i WHERE i IS NOT NULL ORDER BY i);
  PERFORM 1 FROM customers WHERE id = ANY (ids) ORDER BY id FOR NO KEY UPDATE;
  emails := ARRAY(SELECT DISTINCT e FROM (SELECT unnest(emails) UNION ALL
                  SELECT (SELECT lower(email) FROM customers WHERE id = i) FROM unnest(ids) i) u(e)
                  WHERE e IS NOT NULL ORDER BY e);
  IF emails = '{{}}' AND ids = '{{}}' THEN RETURN; END IF;
  PERFORM 1 FROM addresses WHERE email = ANY (emails) ORDER BY email FOR NO KEY UPDATE;
  ids := ARRAY(SELECT DISTINCT i FROM (SELECT unnest(ids) UNION ALL SELECT c.id FROM unnest(emails) e
               CROSS JOIN LATERAL (SELECT id FROM customers WHERE lower(email) = e OFFSET 0) c) u(i) ORDER BY i);
  -- Customers: their combination and whether they share their address.
  SELECT array_agg(k.key ORDER BY d.o), array_agg(coalesce(s.sharer, false) ORDER BY d.o) INTO keys, sharers
    FROM unnest(ids) WITH ORDINALITY d(i, o)
    LEFT JOIN LATERAL (SELECT email FROM customers WHERE id = d.i OFFSET 0) c ON true
    LEFT JOIN LATERAL ({PG_KEY} WHERE m.customer_id = d.i AND c.email IS NOT NULL) k(key) ON true
    LEFT JOIN LATERAL (SELECT EXISTS (SELECT 1 FROM customers o WHERE lower(o.email) = lower(c.email)
                                      AND o.id <> d.i) AS sharer) s ON true;
  news := herald_combo_ids(keys);
  sharers := ARRAY(SELECT s AND n <> 0 FROM unnest(sharers, news) WITH ORDINALITY d(s, n, o) ORDER BY d.o);
  SELECT array_agg(coalesce(cc.combo_id, 0) ORDER BY d.o), array_agg(coalesce(cc.sharer, false) ORDER BY d.o)
    INTO olds, old_sharers FROM unnest(ids) WITH ORDINALITY d(i, o)
    LEFT JOIN LATERAL (SELECT * FROM customer_combos WHERE customer_id = d.i OFFSET 0) cc ON true;
  INSERT INTO membership_combo_counts (combo_id, slot, customers, sharers)
    SELECT c, pg_backend_pid() % {SLOTS}, sum(n), sum(s) FROM (
      SELECT d.n AS c, 1 AS n, d.s::int AS s FROM unnest(news, sharers, olds, old_sharers) d(n, s, o, os)
        WHERE (d.n, d.s) <> (d.o, d.os)
      UNION ALL SELECT d.o, -1, -d.os::int FROM unnest(news, sharers, olds, old_sharers) d(n, s, o, os)
        WHERE (d.n, d.s) <> (d.o, d.os)) m
    WHERE c <> 0 GROUP BY c HAVING sum(n) <> 0 OR sum(s) <> 0 ORDER BY c
    ON CONFLICT (combo_id, slot) DO UPDATE SET customers = membership_combo_counts.customers + excluded.customers,
                                               sharers = membership_combo_counts.sharers + excluded.sharers;
  DELETE FROM customer_combos WHERE customer_id = ANY (ARRAY(SELECT i FROM unnest(ids, news) d(i, n) WHERE n = 0));
  INSERT INTO customer_combos (customer_id, combo_id, sharer)
    SELECT i, n, s FROM unnest(ids, news, sharers, olds, old_sharers) d(i, n, s, o, os)
    WHERE n <> 0 AND (n, s) <> (o, os) ORDER BY i
    ON CONFLICT (customer_id) DO UPDATE SET combo_id = excluded.combo_id, sharer = excluded.sharer;
  -- Flagged addresses: the union of their customers' pairs, shared or not, suppressed or not.
  SELECT array_agg(CASE WHEN f.n > 1 OR f.reason IS NOT NULL THEN
                     ({PG_KEY} JOIN customers c ON c.id = m.customer_id WHERE lower(c.email) = d.e) END ORDER BY d.o),
         array_agg(f.n > 1 ORDER BY d.o), array_agg(f.reason ORDER BY d.o) INTO keys, shared, reasons
    FROM unnest(emails) WITH ORDINALITY d(e, o)
    CROSS JOIN LATERAL (SELECT n, CASE WHEN n > 0 THEN (SELECT reason FROM suppressions WHERE email = d.e) END AS reason
                        FROM (SELECT count(*) AS n FROM customers WHERE lower(email) = d.e) c) f;
  news := herald_combo_ids(keys);
  shared := ARRAY(SELECT s AND n <> 0 FROM unnest(shared, news) WITH ORDINALITY d(s, n, o) ORDER BY d.o);
  reasons := ARRAY(SELECT CASE WHEN n <> 0 THEN r END FROM unnest(reasons, news) WITH ORDINALITY d(r, n, o) ORDER BY d.o);
  SELECT array_agg(coalesce(a.combo_id, 0) ORDER BY d.o), array_agg(coalesce(a.shared, false) ORDER BY d.o),
         array_agg(a.reason ORDER BY d.o) INTO olds, old_shared, old_reasons FROM unnest(emails) WITH ORDINALITY d(e, o)
    LEFT JOIN LATERAL (SELECT * FROM address_reach WHERE email = d.e OFFSET 0) a ON true;
  INSERT INTO address_combo_counts (combo_id, kind, slot, addresses)
    SELECT c, k, pg_backend_pid() % {SLOTS}, sum(n) FROM (
      SELECT x.c, x.k, x.n FROM unnest(news, shared, reasons, olds, old_shared, old_reasons) d(n, s, r, o, os, orr)
      CROSS JOIN LATERAL (VALUES (d.n, CASE WHEN d.s THEN 'shared' END, 1), (d.n, d.r, 1),
                                 (d.o, CASE WHEN d.os THEN 'shared' END, -1), (d.o, d.orr, -1)) x(c, k, n)
      WHERE (d.n, d.s, d.r) IS DISTINCT FROM (d.o, d.os, d.orr) AND x.c <> 0 AND x.k IS NOT NULL) m
    GROUP BY c, k HAVING sum(n) <> 0 ORDER BY c, k
    ON CONFLICT (combo_id, kind, slot) DO UPDATE SET addresses = address_combo_counts.addresses + excluded.addresses;
  DELETE FROM address_reach WHERE email = ANY (ARRAY(SELECT e FROM unnest(emails, news) d(e, n) WHERE n = 0));
  INSERT INTO address_reach (email, combo_id, shared, reason)
    SELECT e, n, s, r FROM unnest(emails, news, shared, reasons, olds, old_shared, old_reasons) d(e, n, s, r, o, os, orr)
    WHERE n <> 0 AND (n, s, r) IS DISTINCT FROM (o, os, orr) ORDER BY e
    ON CONFLICT (email) DO UPDATE SET combo_id = excluded.combo_id, shared = excluded.shared, reason = excluded.reason;
END $$
"""
# What each table's statement trigger syncs: (customer ids, addresses), from its transition tables.
_CHANGED = {
    "memberships": {"INSERT": "SELECT customer_id, NULL FROM new_rows", "DELETE": "SELECT customer_id, NULL FROM old_rows",
                    "UPDATE": "SELECT customer_id, NULL FROM new_rows UNION SELECT customer_id, NULL FROM old_rows"},
    "customers": {"INSERT": "SELECT id, lower(email) FROM new_rows", "DELETE": "SELECT id, lower(email) FROM old_rows",
                  "UPDATE": ("(SELECT id, lower(email) FROM new_rows EXCEPT SELECT id, lower(email) FROM old_rows) UNION "
                             "(SELECT id, lower(email) FROM old_rows EXCEPT SELECT id, lower(email) FROM new_rows)")},
    "suppressions": {"INSERT": "SELECT NULL::int, email FROM new_rows", "DELETE": "SELECT NULL::int, email FROM old_rows",
                     "UPDATE": "SELECT NULL::int, email FROM new_rows UNION SELECT NULL, email FROM old_rows"},
}
EVENTS = {"insert": "AFTER INSERT ON {table} REFERENCING NEW TABLE AS new_rows",
          "update": "AFTER UPDATE ON {table} REFERENCING OLD TABLE AS old_rows NEW TABLE AS new_rows",
          "delete": "AFTER DELETE ON {table} REFERENCING OLD TABLE AS old_rows"}


def _pg_function(table: str) -> str:
    changed = _CHANGED[table]
    pick = "SELECT array_agg(c.i), array_agg(c.e) INTO ids, emails FROM ({}) c(i, e);"
    return f"""
CREATE FUNCTION herald_reach_{table}() RETURNS trigger LANGUAGE plpgsql AS $$
DECLARE ids int[]; emails text[];
BEGIN
  IF TG_OP = 'INSERT' THEN {pick.format(changed['INSERT'])}
  ELSIF TG_OP = 'DELETE' THEN {pick.format(changed['DELETE'])}
  ELSE {pick.format(changed['UPDATE'])}
  END IF;
  IF ids IS NOT NULL THEN PERFORM herald_reach(ids, emails); END IF;
  RETURN NULL;
END $$
"""


def _sqlite_key(where: str, join: str = "") -> str:
    return (f"(SELECT group_concat(p, ',') FROM (SELECT DISTINCT {SQLITE_PAIR} AS p FROM memberships m {join} "
            f"WHERE {where} ORDER BY p))")


def _sqlite_customer(customer: str) -> str:
    """Move ``customer`` (an expression) to the combination of its memberships and its sharer flag
    (SQLite runs one writer at a time, and a row trigger sees every earlier row's change)."""
    key = _sqlite_key(f"m.customer_id = {customer} AND EXISTS (SELECT 1 FROM customers WHERE id = {customer})")
    new = f"(SELECT id FROM membership_combos WHERE key = {key})"
    sharer = (f"(SELECT count(*) FROM customers c JOIN customers o ON lower(o.email) = lower(c.email) "
              f"WHERE c.id = {customer} AND o.id <> c.id) > 0")
    same = f"(SELECT 1 FROM customer_combos WHERE customer_id = {customer} AND combo_id = {new} AND sharer = {sharer})"
    upsert = ("ON CONFLICT (combo_id, slot) DO UPDATE SET customers = customers + excluded.customers, "
              "sharers = sharers + excluded.sharers;")
    return (f"INSERT OR IGNORE INTO membership_combos (key) SELECT {key} WHERE {key} IS NOT NULL; "
            "INSERT OR IGNORE INTO membership_combo_items (combo_id, product_id, status) "
            f"SELECT {new}, product_id, status FROM memberships WHERE customer_id = {customer} AND {new} IS NOT NULL; "
            "INSERT INTO membership_combo_counts (combo_id, slot, customers, sharers) "
            f"SELECT combo_id, 0, -1, -sharer FROM customer_combos WHERE customer_id = {customer} AND NOT EXISTS {same} "
            f"{upsert} INSERT INTO membership_combo_counts (combo_id, slot, customers, sharers) "
            f"SELECT {new}, 0, 1, {sharer} WHERE {new} IS NOT NULL AND NOT EXISTS {same} {upsert} "
            f"DELETE FROM customer_combos WHERE customer_id = {customer}; "
            "INSERT INTO customer_combos (customer_id, combo_id, sharer) "
            f"SELECT {customer}, {new}, {sharer} WHERE {new} IS NOT NULL;")


def _sqlite_address(email: str) -> str:
    """Sync the sharer flags of the customers of ``email`` (lower-cased) and the address's reach."""
    users = f"(SELECT count(*) FROM customers WHERE lower(email) = {email})"
    shares = f"({users} > 1)"
    reason = f"(CASE WHEN {users} > 0 THEN (SELECT reason FROM suppressions WHERE email = {email}) END)"
    key = (f"(CASE WHEN {users} > 1 OR {reason} IS NOT NULL THEN "
           f"{_sqlite_key(f'lower(c.email) = {email}', 'JOIN customers c ON c.id = m.customer_id')} END)")
    new = f"(SELECT id FROM membership_combos WHERE key = {key})"
    shared = f"({new} IS NOT NULL AND {shares})"
    kept_reason = f"(CASE WHEN {new} IS NOT NULL THEN {reason} END)"
    same = (f"(SELECT 1 FROM address_reach WHERE email = {email} AND combo_id = {new} AND shared = {shared} "
            f"AND reason IS {kept_reason})")
    upsert = "ON CONFLICT (combo_id, kind, slot) DO UPDATE SET addresses = addresses + excluded.addresses;"
    count = "INSERT INTO address_combo_counts (combo_id, kind, slot, addresses) "
    return ("INSERT INTO membership_combo_counts (combo_id, slot, customers, sharers) "
            f"SELECT cc.combo_id, 0, 0, {shares} - cc.sharer FROM customer_combos cc "
            f"WHERE cc.customer_id IN (SELECT id FROM customers WHERE lower(email) = {email}) AND cc.sharer <> {shares} "
            "ON CONFLICT (combo_id, slot) DO UPDATE SET sharers = sharers + excluded.sharers; "
            f"UPDATE customer_combos SET sharer = {shares} WHERE customer_id IN "
            f"(SELECT id FROM customers WHERE lower(email) = {email}) AND sharer <> {shares}; "
            f"INSERT OR IGNORE INTO membership_combos (key) SELECT {key} WHERE {key} IS NOT NULL; "
            "INSERT OR IGNORE INTO membership_combo_items (combo_id, product_id, status) "
            f"SELECT DISTINCT {new}, m.product_id, m.status FROM memberships m JOIN customers c ON c.id = m.customer_id "
            f"WHERE lower(c.email) = {email} AND {new} IS NOT NULL; "
            f"{count} SELECT combo_id, 'shared', 0, -1 FROM address_reach WHERE email = {email} AND shared "
            f"AND NOT EXISTS {same} {upsert} "
            f"{count} SELECT combo_id, reason, 0, -1 FROM address_reach WHERE email = {email} AND reason IS NOT NULL "
            f"AND NOT EXISTS {same} {upsert} "
            f"{count} SELECT {new}, 'shared', 0, 1 WHERE {shared} AND NOT EXISTS {same} {upsert} "
            f"{count} SELECT {new}, {kept_reason}, 0, 1 WHERE {kept_reason} IS NOT NULL AND NOT EXISTS {same} {upsert} "
            f"DELETE FROM address_reach WHERE email = {email}; "
            "INSERT INTO address_reach (email, combo_id, shared, reason) "
            f"SELECT {email}, {new}, {shared}, {kept_reason} WHERE {new} IS NOT NULL;")


def _sqlite_member(row: str) -> str:
    email = f"(SELECT lower(email) FROM customers WHERE id = {row}.customer_id)"
    return _sqlite_customer(f"{row}.customer_id") + " " + _sqlite_address(email)


def _sqlite_person(row: str) -> str:
    return _sqlite_customer(f"{row}.id") + " " + _sqlite_address(f"lower({row}.email)")


SQLITE = {  # table: (the condition an update must meet, the sync of one row)
    "memberships": ("OLD.product_id <> NEW.product_id OR OLD.status <> NEW.status OR OLD.customer_id <> NEW.customer_id",
                    _sqlite_member),
    "customers": ("lower(OLD.email) <> lower(NEW.email) OR OLD.id <> NEW.id", _sqlite_person),
    "suppressions": ("OLD.email <> NEW.email OR OLD.reason <> NEW.reason", lambda row: _sqlite_address(f"{row}.email")),
}


def _backfill(postgresql: bool) -> None:
    """Every table from scratch: customers with memberships, then flagged addresses (PostgreSQL
    calls the sync for each address in one statement; SQLite runs its per-address statements)."""
    if postgresql:
        keys = (f"SELECT m.customer_id, string_agg(DISTINCT {PG_PAIR}, ',' ORDER BY {PG_PAIR}) AS key "
                "FROM memberships m GROUP BY m.customer_id")
    else:
        keys = (f"SELECT customer_id, group_concat(p, ',') AS key FROM (SELECT DISTINCT m.customer_id, "
                f"{SQLITE_PAIR} AS p FROM memberships m ORDER BY m.customer_id, p) GROUP BY customer_id")
    op.execute(f"CREATE TEMPORARY TABLE combo_keys AS {keys}")
    op.execute("INSERT INTO membership_combos (key) SELECT DISTINCT key FROM combo_keys ORDER BY key")
    op.execute("INSERT INTO customer_combos (customer_id, combo_id, sharer) SELECT k.customer_id, c.id, "
               "k.customer_id IN (SELECT customer_id FROM shared_addresses) "
               "FROM combo_keys k JOIN membership_combos c ON c.key = k.key")
    op.execute("INSERT INTO membership_combo_items (combo_id, product_id, status) "
               "SELECT DISTINCT cc.combo_id, m.product_id, m.status FROM customer_combos cc "
               "JOIN memberships m ON m.customer_id = cc.customer_id")
    op.execute("INSERT INTO membership_combo_counts (combo_id, slot, customers, sharers) "
               "SELECT combo_id, 0, count(*), sum(CASE WHEN sharer THEN 1 ELSE 0 END) FROM customer_combos GROUP BY combo_id")
    op.execute("DROP TABLE combo_keys")
    flagged = "SELECT email FROM shared_addresses UNION SELECT email FROM suppressed_customers"
    if postgresql:
        op.execute(f"SELECT herald_reach('{{}}', ARRAY({flagged}))")
    else:
        op.execute(f"CREATE TEMPORARY TABLE flagged_addresses AS {flagged}")
        op.execute(f"CREATE TEMPORARY TRIGGER flagged_sync AFTER DELETE ON flagged_addresses "
                   f"BEGIN {_sqlite_address('OLD.email')} END")
        op.execute("DELETE FROM flagged_addresses")
        op.execute("DROP TABLE flagged_addresses")


def upgrade():
    op.create_table(
        "membership_combos",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("key", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_membership_combos")),
        sa.UniqueConstraint("key", name=op.f("uq_membership_combos_key")),
    )
    op.create_table(
        "membership_combo_items",
        sa.Column("product_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("combo_id", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("product_id", "status", "combo_id", name=op.f("pk_membership_combo_items")),
    )
    op.create_table(
        "membership_combo_counts",
        sa.Column("combo_id", sa.Integer(), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("customers", sa.Integer(), nullable=False),
        sa.Column("sharers", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("combo_id", "slot", name=op.f("pk_membership_combo_counts")),
    )
    op.create_table(
        "customer_combos",
        sa.Column("customer_id", sa.Integer(), nullable=False),
        sa.Column("combo_id", sa.Integer(), nullable=False),
        sa.Column("sharer", sa.Boolean(), nullable=False),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customer_combos")),
    )
    op.create_table(
        "address_reach",
        sa.Column("email", sa.String(length=254), nullable=False),
        sa.Column("combo_id", sa.Integer(), nullable=False),
        sa.Column("shared", sa.Boolean(), nullable=False),
        sa.Column("reason", sa.String(length=16), nullable=True),
        sa.PrimaryKeyConstraint("email", name=op.f("pk_address_reach")),
    )
    op.create_table(
        "address_combo_counts",
        sa.Column("combo_id", sa.Integer(), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("slot", sa.Integer(), nullable=False),
        sa.Column("addresses", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("combo_id", "kind", "slot", name=op.f("pk_address_combo_counts")),
    )
    postgresql = op.get_bind().dialect.name == "postgresql"
    if postgresql:
        op.execute("SET LOCAL work_mem = '256MB'")
        op.execute(COMBO_IDS)
        op.execute(SYNC)
    _backfill(postgresql)
    if postgresql:
        op.execute("ANALYZE membership_combos; ANALYZE membership_combo_items; ANALYZE membership_combo_counts; "
                   "ANALYZE customer_combos; ANALYZE address_reach; ANALYZE address_combo_counts")
        for table in _CHANGED:
            op.execute(_pg_function(table))
            for event, clause in EVENTS.items():
                op.execute(f"CREATE TRIGGER {table}_reach_{event} {clause.format(table=table)} "
                           f"FOR EACH STATEMENT EXECUTE FUNCTION herald_reach_{table}()")
    else:
        for table, (update_when, sync) in SQLITE.items():
            op.execute(f"CREATE TRIGGER {table}_reach_insert AFTER INSERT ON {table} BEGIN {sync('NEW')} END")
            op.execute(f"CREATE TRIGGER {table}_reach_update AFTER UPDATE ON {table} WHEN {update_when} "
                       f"BEGIN {sync('OLD')} {sync('NEW')} END")
            op.execute(f"CREATE TRIGGER {table}_reach_delete AFTER DELETE ON {table} BEGIN {sync('OLD')} END")


def downgrade():
    postgresql = op.get_bind().dialect.name == "postgresql"
    for table in _CHANGED:
        for event in EVENTS:
            op.execute(f"DROP TRIGGER {table}_reach_{event}" + (f" ON {table}" if postgresql else ""))
        if postgresql:
            op.execute(f"DROP FUNCTION herald_reach_{table}()")
    if postgresql:
        op.execute("DROP FUNCTION herald_reach(int[], text[]); DROP FUNCTION herald_combo_ids(text[])")
    for table in ("address_combo_counts", "address_reach", "customer_combos", "membership_combo_counts",
                  "membership_combo_items", "membership_combos"):
        op.drop_table(table)
