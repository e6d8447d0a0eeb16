"""Login throttling in Redis: an attempt is counted atomically BEFORE its password is hashed.

Three counters, each a Redis hash ``{n, last}`` forgotten a day after its last failure:

- the pair (account, client group): ``LOGIN_MAX_FAILURES`` come free, then each further attempt
  waits ``LOGIN_DELAY_SECONDS``, doubling with every failure up to ``LOGIN_MAX_DELAY_SECONDS``;
- the client group over all accounts: ``LOGIN_MAX_FAILURES * 4`` free (password spraying);
- the account over all client groups: ``LOGIN_ACCOUNT_MAX_FAILURES`` free (an attacker rotating
  addresses). A browser that logged into the account before (its signed device cookie,
  ``device_token``) is not held back by this counter, so no attacker can keep the admin out.

A client group is an IPv4 address, or the /64 network of an IPv6 address (RFC 4291 section 2.5.1:
one subscriber usually holds a whole /64). One Lua script checks every counter and, when none
makes the client wait, counts the attempt as a failure in the same step, so parallel guesses
cannot all pass the check; a right password takes its count back (``forget``).
"""
import ipaddress
import time
from dataclasses import dataclass

from flask import current_app
from itsdangerous import BadSignature, URLSafeSerializer

from ..core.extensions import redis_store
from ..core.utils import normalise_email

FAILURE_MEMORY = 24 * 3600  # a counter is forgotten a day after its last failure
DEVICE_COOKIE = "herald_device"

# KEYS: the counters; ARGV: now, delay, cap, memory, then each counter's free failures (-1: not
# checked, only counted). Returns {wait, previous last of each key} as strings (Lua numbers would
# be truncated to integers in the reply).
RESERVE = """
local now, delay, cap = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local wait, previous = 0, {}
for i, key in ipairs(KEYS) do
  local n, last = unpack(redis.call('HMGET', key, 'n', 'last'))
  n, last = tonumber(n) or 0, tonumber(last) or 0
  previous[i] = tostring(last)
  local allowed = tonumber(ARGV[4 + i])
  if allowed >= 0 and n >= allowed then
    wait = math.max(wait, last + math.min(delay * 2 ^ math.min(n - allowed, 30), cap) - now)
  end
end
if wait > 0 then return {tostring(wait)} end
for _, key in ipairs(KEYS) do
  redis.call('HINCRBY', key, 'n', 1)
  redis.call('HSET', key, 'last', ARGV[1])
  redis.call('EXPIRE', key, ARGV[4])
end
table.insert(previous, 1, '0')
return previous
"""

# KEYS: the counters of a reservation; ARGV: their previous ``last``. Takes the count back.
FORGET = """
for i, key in ipairs(KEYS) do
  if redis.call('HINCRBY', key, 'n', -1) <= 0 then redis.call('DEL', key)
  else redis.call('HSET', key, 'last', ARGV[i]) end
end
"""


class LoginThrottled(Exception):
    """Too many failed logins from this client; ``retry_after`` is in seconds."""

    def __init__(self, retry_after: int):
        retry_after = max(1, int(retry_after))
        wait = f"{retry_after} second(s)" if retry_after < 120 else f"{retry_after // 60} minute(s)"
        super().__init__(f"Too many failed attempts. Try again in {wait}.")
        self.retry_after = retry_after


def client_group(remote_addr: str | None) -> str:
    """The throttled unit of a client address: an IPv4 address as is (an IPv4-mapped IPv6 one
    as its IPv4 address), an IPv6 address as its /64 network (``2001:db8::/64``); anything
    else (no address, a Unix socket) as given, ``-`` when empty."""
    try:
        address = ipaddress.ip_address((remote_addr or "").split("%", 1)[0])
    except ValueError:
        return remote_addr or "-"
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:
        return str(address.ipv4_mapped)
    return str(ipaddress.IPv6Network((address, 64), strict=False))


def keys(email: str, remote_addr: str | None) -> tuple[str, str, str]:
    """The Redis keys of the (account, group), group and account counters."""
    account, group = normalise_email(email), client_group(remote_addr)
    return (redis_store.key("login-fail", "pair", account, group),
            redis_store.key("login-fail", "ip", group),
            redis_store.key("login-fail", "account", account))


@dataclass(frozen=True)
class Reservation:
    """An attempt counted as a failure before its password was checked."""
    keys: tuple
    previous: tuple

    def forget(self):
        """The password was right: clear the pair's failures and take the count back from the
        group and account counters."""
        client = redis_store.client
        client.delete(self.keys[0])
        client.eval(FORGET, 2, *self.keys[1:], *self.previous[1:])


def reserve(email: str, remote_addr: str | None, trusted_device: bool = False) -> Reservation:
    """Count an attempt on ``email`` from ``remote_addr`` as a failure, atomically; raises
    LoginThrottled (nothing counted) while one of its counters makes the client wait."""
    config = current_app.config
    allowed = config["LOGIN_MAX_FAILURES"]
    account_allowed = -1 if trusted_device else config["LOGIN_ACCOUNT_MAX_FAILURES"]
    names = keys(email, remote_addr)
    reply = redis_store.client.eval(
        RESERVE, len(names), *names, time.time(), config["LOGIN_DELAY_SECONDS"],
        config["LOGIN_MAX_DELAY_SECONDS"], FAILURE_MEMORY, allowed, allowed * 4, account_allowed)
    wait = float(reply[0])
    if wait > 0:
        raise LoginThrottled(wait + 0.999)
    return Reservation(names, tuple(reply[1:]))


def _serializer() -> URLSafeSerializer:
    return URLSafeSerializer(current_app.config["SECRET_KEY"], salt="herald-login-device")


def device_token(email: str) -> str:
    """The signed value of the device cookie a browser gets when it logs into ``email``."""
    return _serializer().dumps(normalise_email(email))


def is_trusted_device(token: str | None, email: str) -> bool:
    """True when ``token`` is a device cookie this network signed for ``email``."""
    try:
        return bool(token) and _serializer().loads(token) == normalise_email(email)
    except BadSignature:
        return False
