"""The Redis database of a test run: taken for the run alone, checked, and emptied before each test."""
import os

import redis

CLAIM_NAME = "herald-test-run"
OWN_KEY_PREFIXES = (b"rq:", b"herald-test")  # what Herald's tests write: RQ and the test prefix


class RedisInUse(RuntimeError):
    """Another test run, or something that is not a Herald test, uses the test Redis database."""


class RedisDatabase:
    """One Redis database for one test run.

    The run names a connection ``herald-test-run:<pid>`` that stays open for the whole run; a
    second run that finds such a connection on the same database stops with a clear message, so
    two runs never empty each other's queues. A run started by a test of the run holding the
    database (a nested pytest in a subprocess) may share it: its parent waits for it.
    Before taking a database that holds keys a test did not write (``rq:*``, ``herald-test*``),
    the run stops rather than empty someone's data.
    """

    def __init__(self, url: str):
        self.url = url
        self.client = redis.Redis.from_url(url, socket_connect_timeout=3)
        self._claim = redis.Redis.from_url(url, socket_connect_timeout=3, single_connection_client=True)
        self.number = int(self._claim.connection_pool.connection_kwargs.get("db", 0))

    def claim(self) -> "RedisDatabase":
        """Take the database for this run, or raise RedisInUse / a connection error that says why."""
        try:
            self._claim.client_setname(f"{CLAIM_NAME}:{os.getpid()}")
            mine = f"{CLAIM_NAME}:{os.getpid()}"
            others = [c for c in self._claim.client_list()
                      if c.get("name", "").startswith(CLAIM_NAME + ":") and c.get("name") != mine
                      and int(c.get("db", -1)) == self.number]
        except redis.ConnectionError as error:
            raise RedisInUse(f"Redis does not answer at {self.url} (TEST_REDIS_URL): {error}") from None
        parent = f"{CLAIM_NAME}:{os.getppid()}"
        if any(c["name"] != parent for c in others):
            self.release()
            raise RedisInUse(f"Redis database {self.number} at {self.url} is used by another test run "
                             f"({', '.join(c['name'] for c in others)}); set TEST_REDIS_URL to another "
                             "database number for this run.")
        stranger = next((key for key in self.client.scan_iter(count=500)
                         if not key.startswith(OWN_KEY_PREFIXES)), None)
        if stranger is not None and not others:
            self.release()
            raise RedisInUse(f"Redis database {self.number} at {self.url} holds data that is not a "
                             f"test's (e.g. {stranger.decode(errors='replace')!r}); tests empty their "
                             "database before every test, so set TEST_REDIS_URL to an unused one.")
        return self

    def empty(self) -> None:
        """Delete every key of the database (the claim is a connection name, not a key)."""
        self.client.flushdb()

    def release(self) -> None:
        """Give the database back (at the end of the run)."""
        try:
            self._claim.close()
        finally:
            self.client.close()
