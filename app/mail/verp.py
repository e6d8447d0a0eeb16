"""VERP return paths: a signed envelope sender per delivery, so that a bounce names the delivery."""
import hashlib
import hmac
import re
from functools import lru_cache

from flask import current_app

from .addresses import AddressError, normalise_address, wire_address

SIGNATURE_LENGTH = 12  # hex digits of HMAC-SHA256: 48 bits, one guess per forged bounce message
MAX_ID_DIGITS = 19  # a BIGINT delivery id
TOKEN_LENGTH = len("+d-") + MAX_ID_DIGITS + SIGNATURE_LENGTH  # what follows the prefix
LOCAL_PART_LIMIT = 64  # octets (RFC 5321 section 4.5.3.1.1)
MAX_PREFIX = LOCAL_PART_LIMIT - TOKEN_LENGTH  # 30
PREFIX_RE = re.compile(r"[a-z0-9](?:[a-z0-9._-]*[a-z0-9])?")
TOKEN_RE = re.compile(rf"\+(d\d{{1,{MAX_ID_DIGITS}}}-[0-9a-f]{{{SIGNATURE_LENGTH}}})@", re.IGNORECASE)
_TOKEN_FULL_RE = re.compile(rf"d(\d{{1,{MAX_ID_DIGITS}}})-([0-9a-f]{{{SIGNATURE_LENGTH}}})")


def checked_settings(domain: str, prefix: str) -> tuple[str, str]:
    """``(domain, prefix)`` of the return paths, checked: ``domain`` as A-labels (RFC 5891) for the
    envelope, ``prefix`` lower case ASCII letters, digits, dots, hyphens and underscores, at most
    ``MAX_PREFIX`` (30) octets, so that ``<prefix>+d<id>-<signature>`` fits the 64 octets of a local
    part (RFC 5321 section 4.5.3.1.1) whatever the delivery id. Raises ValueError saying what to fix;
    ``("", prefix)`` when ``domain`` is empty (VERP is off)."""
    domain, prefix = (domain or "").strip().lower(), (prefix or "").strip()
    if not PREFIX_RE.fullmatch(prefix) or len(prefix) > MAX_PREFIX:
        raise ValueError(f"RETURN_PATH_PREFIX {prefix!r} must be 1 to {MAX_PREFIX} lower-case letters, "
                         "digits, dots, hyphens or underscores (no +), starting and ending with a letter "
                         "or digit")
    if not domain:
        return "", prefix
    try:
        address = normalise_address(f"{prefix}@{domain}")
    except AddressError as error:
        raise ValueError(f"RETURN_PATH_DOMAIN {domain!r} cannot take bounces: {error}") from None
    return wire_address(address).envelope.rpartition("@")[2], prefix


class ReturnPaths:
    """Makes the envelope sender of each delivery: ``<prefix>+d<delivery id>-<signature>@<domain>``.

    The signature is the first 12 hex digits of HMAC-SHA256(SECRET_KEY, "herald.verp:<id>"): a
    forged bounce cannot suppress an address without the key. The token is lower case, so MTAs
    that fold the local part's case do not break it (``delivery_id`` reads it either way).
    """

    def __init__(self, domain: str, prefix: str, secret: str):
        self.domain, self.prefix = checked_settings(domain, prefix)
        self._mac = hmac.new(secret.encode(), digestmod=hashlib.sha256)

    def signature(self, delivery_id: int) -> str:
        """The token's signature for ``delivery_id``."""
        mac = self._mac.copy()
        mac.update(f"herald.verp:{delivery_id}".encode())
        return mac.hexdigest()[:SIGNATURE_LENGTH]

    def __call__(self, delivery_id: int) -> str:
        """The return path of delivery ``delivery_id``."""
        return f"{self.prefix}+d{delivery_id}-{self.signature(delivery_id)}@{self.domain}"

    def delivery_id(self, token: str | None) -> int | None:
        """The delivery id in a token (``d<id>-<signature>``, any case), or None when it is forged
        or malformed."""
        match = _TOKEN_FULL_RE.fullmatch((token or "").strip().lower())
        if match is None:
            return None
        delivery_id = int(match.group(1))
        return delivery_id if hmac.compare_digest(match.group(2), self.signature(delivery_id)) else None


@lru_cache(maxsize=8)
def _return_paths(domain: str, prefix: str, secret: str) -> ReturnPaths:
    return ReturnPaths(domain, prefix, secret)


def signer() -> ReturnPaths:
    """The current app's ReturnPaths (also when VERP is off: bounces sent earlier still read)."""
    config = current_app.config
    return _return_paths(config.get("RETURN_PATH_DOMAIN") or "",
                         config.get("RETURN_PATH_PREFIX") or "bounces", config["SECRET_KEY"])


def return_paths() -> ReturnPaths | None:
    """The current app's ReturnPaths, or None when ``RETURN_PATH_DOMAIN`` is unset (VERP off:
    every message's envelope sender is MAIL_FROM's address)."""
    paths = signer()
    return paths if paths.domain else None


def delivery_id_from_token(token: str | None) -> int | None:
    """The delivery id a VERP token (the part after ``+``) names, or None when forged or malformed."""
    return signer().delivery_id(token)
