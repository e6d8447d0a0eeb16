"""The write-ahead record of a sending job in Redis: what each SMTP transaction did, kept before the
ledger is written, so the reaper knows the fate of the rows a dead job held.

One hash per job lease, ``<prefix>:delivery:wal:<token>``, with
- ``h``: the header, ``{"redis": <server run_id>, "ids": [rows in sending order]}``, written and
  acknowledged before a claim commits: the rows of the batch whose outcomes that transaction
  writes, of the batch being sent and of the batch it claims (``app/delivery/cycle.py``), so it
  covers the job's claim whether the transaction commits or not;
- ``s``: the first row of a batch that stopped early (a pause or cancel): none from it on was sent;
- ``n``: the next row while the loop waits for its rate-limit slot, nothing open on the SMTP
  connection (written only before such a wait, deleted before that row's first SMTP write);
- ``<row id>``: the row's outcome (``Outcome.to_json``), written right after the server's replies
  are read, one command for all the outcomes one read gave.

The rows are handed to the SMTP server in header order and, with PIPELINING (RFC 2920), a message's
content goes out with the next message's envelope: so at any moment at most one message has an
open transaction (its envelope accepted) without a recorded outcome, and it is the first row of
the header without one; the rows after it never had their content sent. Without PIPELINING each
message is a whole transaction and the same holds. The record therefore needs one write per
message (its outcome, after the reply) and no wait: the commands go over one connection in order
and their replies are read at the end of the batch. They are written as RESP
(https://redis.io/docs/latest/develop/reference/protocol-spec/) straight to the socket of a
connection taken from the pool (authenticated, database selected), because redis-py's command
packing cost more CPU than the rest of the record. A SIGKILLed worker loses nothing it wrote: the
kernel already handed the bytes to Redis. The reaper reads a dead job's record (``read``): rows
with an outcome get it; the first row without one is unknown (its content may have gone out, its
reply was not read) unless ``s`` or ``n`` names it (its envelope was never written); the other
rows are queued again. A header from another Redis ``run_id``, or
none, means the record may be incomplete: then every row without an outcome is unknown.
"""
import json
import logging
import socket

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import (BusyLoadingError, NoPermissionError, OutOfMemoryError, ReadOnlyError,
                              RedisError, ResponseError, TryAgainError)

from ..core.extensions import redis_store
from ..core.leases import redis_run_id
from ..core.sockets import kernel_timeouts

log = logging.getLogger(__name__)
TTL_MS = 7 * 86400 * 1000


# Redis's error prefixes (https://redis.io/docs/latest/develop/reference/protocol-spec/#simple-errors)
# as redis-py's own parser classes them, so ``core.transient`` sees a read-only replica or a
# loading server as transient here too; any other error is a ResponseError.
_ERRORS = {"OOM": OutOfMemoryError, "READONLY": ReadOnlyError, "LOADING": BusyLoadingError,
           "TRYAGAIN": TryAgainError, "NOPERM": NoPermissionError}


def redis_error(message: str) -> RedisError:
    """The exception for an error reply ``message`` (without its ``-``)."""
    prefix, _, rest = message.partition(" ")
    kind = _ERRORS.get(prefix)
    return kind(rest) if kind else ResponseError(message)


def wal_key(token: str) -> str:
    """The record of the job holding lease ``token``."""
    return redis_store.key("delivery", "wal", token)


def _bulk(value) -> bytes:
    data = value if isinstance(value, bytes) else str(value).encode()
    return b"$%d\r\n%s\r\n" % (len(data), data)


def pack(*args) -> bytes:
    """One command in RESP: an array of bulk strings."""
    return b"*%d\r\n" % len(args) + b"".join(_bulk(arg) for arg in args)


class WriteAheadLog:
    """The record a ``Sender`` keeps (one connection, replies read late); every method raises
    RedisError when Redis fails, and the record is then no longer written. Every command it sends
    answers with one line (an integer, or an error); ``confirm`` reads them."""

    def __init__(self, token: str):
        self.key = wal_key(token)
        self._client = redis_store.client
        self._conn = self._sock = None
        self._unread, self._buffer = 0, b""
        self._server = None  # the Redis run_id, read when the connection is taken
        self._hset_key = b"$4\r\nHSET\r\n" + _bulk(self.key)
        self._hdel_key = b"$4\r\nHDEL\r\n" + _bulk(self.key)

    def _send(self, *command, packed: bytes = b"") -> None:
        try:
            if self._sock is None:
                self._conn = self._client.connection_pool.get_connection()
                self._sock = self._conn._sock  # connected by the pool: AUTH and SELECT done
                kernel_timeouts(self._sock)  # no poll per command (the connection is never reused)
            self._sock.sendall(packed or pack(*command))
        except BaseException as error:
            raise self._failed(error) from None
        self._unread += 1

    def _failed(self, error: BaseException) -> BaseException:
        """Drop the connection (the replies in it can no longer be matched); what to raise."""
        self._drop_connection()
        if isinstance(error, OSError):
            return RedisConnectionError(f"write-ahead record {self.key}: {error}")
        return error

    def confirm(self) -> None:
        """Wait until Redis has acknowledged everything sent so far."""
        try:
            while self._buffer.count(b"\r\n") < self._unread:
                data = self._sock.recv(65536)
                if not data:
                    raise OSError("connection closed by Redis")
                self._buffer += data
        except BaseException as error:
            raise self._failed(error) from None
        replies, self._buffer, self._unread = self._buffer, b"", 0
        if replies.startswith(b"-") or b"\n-" in replies:  # an error among the integers (rare)
            error = next(line for line in replies.split(b"\r\n") if line.startswith(b"-"))
            self._drop_connection()
            raise redis_error(error[1:].decode(errors="replace"))

    def begin(self, row_ids) -> None:
        """Start the record of a batch claimed (not yet committed): rows in sending order."""
        if self._server is None:  # once per connection: a restarted Redis breaks the connection
            self._server = redis_run_id(self._client)
        header = json.dumps({"redis": self._server, "ids": list(row_ids)})
        self._send("HSET", self.key, "h", header)
        # "f": written by earlier versions; "n" is the loop's own (this may run in its background
        # thread, on another connection, while the loop waits for a slot)
        self._send("HDEL", self.key, "f", "s")
        self._send("PEXPIRE", self.key, TTL_MS)
        self.confirm()

    def rewrite(self, row_ids, outcomes, stop: int | None = None) -> None:
        """Write the whole record again: the header of ``row_ids`` (every row of the job's claim,
        in sending order), the ``outcomes`` the job holds in memory and has not committed, and
        ``stop`` (the first of the rows never sent, if any: ``stopped``). For a job that cannot
        write its outcomes to the ledger yet: when Redis restarted empty (or failed over)
        meanwhile, the record went with it, and the reaper would settle a job that dies now
        with every row ``unknown``, or, with a header written since and no outcomes, queue
        delivered rows again. Raises RedisError (nothing is known to be written then)."""
        self.begin(row_ids)
        if outcomes:
            self.record(outcomes)
        if stop is not None:
            self.stopped(stop)
        self.confirm()

    def stopped(self, row_id: int) -> None:
        """The batch stopped before ``row_id``: it and the rows after it are never sent."""
        self._send("HSET", self.key, "s", row_id)

    def waiting(self, row_id: int) -> None:
        """The loop waits for a rate-limit slot before ``row_id``, every message before it settled:
        nothing of ``row_id`` has gone to the server. ``started`` must follow before its first
        SMTP write (the sender keeps that promise whatever batch comes next). Not acknowledged: the
        bytes are with the kernel, so a SIGKILL loses nothing."""
        self._send("HSET", self.key, "n", row_id)

    def started(self) -> None:
        """The row ``waiting`` named goes to the server now: it may be in flight from here on."""
        self._send("HDEL", self.key, "n")

    def record(self, outcomes) -> None:
        """The server answered for ``outcomes`` (one command for all of them). Raises as soon as
        Redis is seen to have refused an earlier record (``_poll``)."""
        parts = [b"*%d\r\n" % (2 + 2 * len(outcomes)), self._hset_key]
        for outcome in outcomes:  # each: its row id and its JSON, two bulk strings
            field, value = b"%d" % outcome.id, outcome.to_json().encode()
            parts.append(b"$%d\r\n%s\r\n$%d\r\n%s\r\n" % (len(field), field, len(value), value))
        self._send(packed=b"".join(parts))
        self._poll()

    def _poll(self) -> None:
        """Take the replies Redis has sent so far, without waiting (one ``recv`` that does not
        block), and raise ResponseError when one is an error: a write refused (``OOM`` under
        ``maxmemory`` with ``noeviction``, ``READONLY`` on a replica, ``MISCONF``) leaves outcomes
        that are only in memory, so the loop must stop sending then (``Sender._recover`` writes
        them to the ledger) rather than at the batch's end, when a SIGKILL in between would have
        the reaper queue delivered rows again. A refused record is seen one reply group after it
        at the latest: the loop stops after at most that one more message."""
        try:
            data = self._sock.recv(65536, socket.MSG_DONTWAIT)
        except BlockingIOError:  # nothing yet: nearly always
            return
        except BaseException as error:
            raise self._failed(error) from None
        if not data:
            raise self._failed(OSError("connection closed by Redis"))
        window = self._buffer[-1:] + data  # an error line starts the reply or follows a line end
        self._buffer += data
        if b"\n-" in window or self._buffer.startswith(b"-"):
            self.confirm()  # reads the rest of the line if needed, drops the connection, raises

    def settle(self, outcomes) -> None:
        """The outcomes are committed to the ledger: their entries can go (best effort)."""
        if not outcomes:
            return
        try:
            parts = [b"*%d\r\n" % (2 + len(outcomes)), self._hdel_key]
            for outcome in outcomes:  # as in ``record``: no call per row (``pack`` makes three)
                field = b"%d" % outcome.id
                parts.append(b"$%d\r\n%s\r\n" % (len(field), field))
            self._send(packed=b"".join(parts))
            self.confirm()
        except RedisError as error:  # a stale entry is ignored: its row is no longer sending
            log.warning("cannot trim the write-ahead record %s: %s", self.key, error)

    def close(self, drop: bool = False) -> None:
        """Read what is left and give the connection back; ``drop`` deletes the record (every
        outcome in it is committed)."""
        try:
            if drop:
                self._send("DEL", self.key)
            if self._conn is not None:
                self.confirm()
        except RedisError as error:
            log.warning("cannot close the write-ahead record %s: %s", self.key, error)
        finally:
            self._drop_connection()

    def _drop_connection(self) -> None:
        if self._conn is not None:
            self._conn.disconnect()  # its parser never saw our replies: never reused as is
            self._client.connection_pool.release(self._conn)
        self._conn = self._sock = self._server = None
        self._unread, self._buffer = 0, b""


def read(token: str, held=None):
    """A dead job's record: (intact, header row ids, row ids that may have been delivered without a
    recorded outcome, {row id: JSON}). ``intact`` is False when the header is missing or was
    written to another Redis run. The row that may have been delivered is the first of the header
    without an outcome among the rows of the claim (``held``, a set of row ids; None: every row of
    the header), see the module docstring; a record of an earlier version names them in ``f``."""
    raw = {field.decode(): value for field, value in redis_store.client.hgetall(wal_key(token)).items()}
    header = json.loads(raw.pop("h")) if "h" in raw else None
    flying = {int(row_id) for row_id in raw.pop("f", b"").decode().split(",") if row_id}
    # rows never written to the server: where a batch stopped, the row waiting for its slot
    never_sent = {int(raw.pop(name)) for name in ("s", "n") if name in raw}
    outcomes = {int(field): value for field, value in raw.items()}
    order = (header or {}).get("ids", [])
    first = next((row_id for row_id in order if row_id not in outcomes and (held is None or row_id in held)),
                 None)
    if first is not None and first not in never_sent:
        flying.add(first)
    intact = header is not None and header["redis"] == redis_run_id()
    return intact, order, flying, outcomes


def forget(token: str) -> None:
    """Delete a dead job's record once its rows are settled (after the commit)."""
    redis_store.client.delete(wal_key(token))
