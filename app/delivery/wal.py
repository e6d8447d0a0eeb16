"""The write-ahead record of a sending job in Redis: what each SMTP transaction did, kept before the
ledger is written, so the reaper knows the fate of the rows a dead job held.

One hash per job lease, ``<prefix>:delivery:wal:<token>``, with
- ``h``: the batch header, ``{"redis": <server run_id>, "ids": [rows in sending order]}``, written
  and acknowledged before the claim of the batch commits;
- ``s``: the row whose SMTP transaction started last, acknowledged before the message's final
  ``.`` is sent (RFC 5321 section 4.1.1.4: without it the server delivers nothing);
- ``<row id>``: the row's outcome (``Outcome.to_json``), sent as soon as the server replied.

Commands go over one connection in order and their replies are read later (while the next message
is built or its envelope is on its way), so a message costs no extra round trip; they are written
as RESP (https://redis.io/docs/latest/develop/reference/protocol-spec/) straight to the socket of
a connection taken from the pool (authenticated, database selected), because redis-py's command
packing cost more CPU than the rest of the record. A SIGKILLed worker loses nothing it wrote: the
kernel still delivers its socket's buffer. The reaper reads a
dead job's record (``read``): rows with an outcome get it; the row in ``s`` without one is
unknown; the other rows never reached their final dot and are queued again. A header from
another Redis ``run_id``, or none, means the record may be incomplete: then every row without an
outcome is unknown.
"""
import json
import logging

from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import RedisError, ResponseError

from ..core.extensions import redis_store
from ..core.leases import redis_run_id

log = logging.getLogger(__name__)
TTL_MS = 7 * 86400 * 1000


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
    answers with one line (an integer, or an error)."""

    def __init__(self, token: str):
        self.key = wal_key(token)
        self._client = redis_store.client
        self._conn = self._sock = None
        self._unread, self._buffer = 0, b""
        self._hset = b"*4\r\n$4\r\nHSET\r\n" + _bulk(self.key)  # the per-message commands' head
        self._started = self._hset + _bulk("s")

    def _send(self, *command, packed: bytes = b"") -> None:
        try:
            if self._sock is None:
                self._conn = self._client.connection_pool.get_connection()
                self._sock = self._conn._sock  # connected by the pool: AUTH and SELECT done
            self._sock.sendall(packed or pack(*command))
        except OSError as error:
            self._drop_connection()
            raise RedisConnectionError(f"write-ahead record {self.key}: {error}") from None
        except BaseException:
            self._drop_connection()
            raise
        self._unread += 1

    def confirm(self) -> None:
        """Wait until Redis has acknowledged everything sent so far."""
        try:
            while self._buffer.count(b"\r\n") < self._unread:
                data = self._sock.recv(65536)
                if not data:
                    raise OSError("connection closed by Redis")
                self._buffer += data
        except OSError as error:
            self._drop_connection()
            raise RedisConnectionError(f"write-ahead record {self.key}: {error}") from None
        except BaseException:
            self._drop_connection()
            raise
        lines, self._buffer, self._unread = self._buffer.split(b"\r\n"), b"", 0
        errors = [line for line in lines if line.startswith(b"-")]
        if errors:
            self._drop_connection()
            raise ResponseError(errors[0][1:].decode(errors="replace"))

    def begin(self, row_ids) -> None:
        """Start the record of a batch claimed (not yet committed): rows in sending order."""
        header = json.dumps({"redis": redis_run_id(self._client), "ids": list(row_ids)})
        self._send("HSET", self.key, "h", header)
        self._send("HDEL", self.key, "s")
        self._send("PEXPIRE", self.key, TTL_MS)
        self.confirm()

    def started(self, row_id: int) -> None:
        """The SMTP transaction of ``row_id`` starts (``confirm`` before its final dot)."""
        self._send(packed=self._started + _bulk(row_id))

    def record(self, outcome) -> None:
        """The server answered for ``outcome.id``."""
        self._send(packed=self._hset + _bulk(outcome.id) + _bulk(outcome.to_json()))

    def settle(self, outcomes) -> None:
        """The outcomes are committed to the ledger: their entries can go (best effort)."""
        if not outcomes:
            return
        try:
            self._send("HDEL", self.key, *[o.id for o in outcomes])
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
        self._conn = self._sock = None
        self._unread, self._buffer = 0, b""
        self._hset = b"*4\r\n$4\r\nHSET\r\n" + _bulk(self.key)  # the per-message commands' head
        self._started = self._hset + _bulk("s")


def read(token: str):
    """A dead job's record: (intact, header row ids, started row id or None, {row id: JSON}).
    ``intact`` is False when the header is missing or was written to another Redis run."""
    raw = {field.decode(): value for field, value in redis_store.client.hgetall(wal_key(token)).items()}
    header = json.loads(raw.pop("h")) if "h" in raw else None
    started = int(raw.pop("s")) if "s" in raw else None
    outcomes = {int(field): value for field, value in raw.items()}
    intact = header is not None and header["redis"] == redis_run_id()
    return intact, (header or {}).get("ids", []), started, outcomes


def forget(token: str) -> None:
    """Delete a dead job's record once its rows are settled (after the commit)."""
    redis_store.client.delete(wal_key(token))
