"""Herald's Message-IDs: ``<herald.<run>.<key>.<tag>@<sender's domain>>``, stable and unguessable.

A bounce or complaint names the message it is about by its Message-ID, and a Message-ID of
Herald's shape names a delivery (``herald.<run>.<delivery id>``). Run and delivery ids are
sequential, so without more anyone could write the id of another recipient's message into a
forged bounce and have that recipient suppressed. The ``tag`` is the first 16 hex digits (64 bits)
of HMAC-SHA256 under ``SECRET_KEY`` of the run and key: the same for every retry of a delivery
(one message, one id), impossible to guess without the key. ``tracking.ledger.find_delivery``
matches a Herald-shaped id only when its tag holds (docs/bounces.md).

Costs about a microsecond per message (the keyed HMAC is made once and copied, as
``tokens.TokenSigner`` does): the Message-ID is made in the send loop's hottest path.
"""
import hashlib
import hmac
import re
from functools import lru_cache

from flask import current_app

TAG_LENGTH = 16  # hex digits: 64 bits, one guess per forged bounce message
# herald.<run>.<delivery>[.<tag>]@<domain>; the run is "m" outside a run (system e-mails)
OWN_MESSAGE_ID = re.compile(r"herald\.(\d{1,10}|m)\.([a-z0-9]{1,40})(?:\.([0-9a-f]{%d}))?@\S+" % TAG_LENGTH,
                            re.IGNORECASE)


class MessageIdTagger:
    """Makes and checks the tags of Herald's Message-IDs under one secret."""

    def __init__(self, secret: str):
        self._mac = hmac.new(secret.encode(), b"herald.message-id:", digestmod=hashlib.sha256)

    def tag(self, run, key) -> str:
        """The tag of the id of message ``key`` (a delivery id, ``sysemail<id>``) of run ``run``
        (None outside a run)."""
        mac = self._mac.copy()
        mac.update(f"{'m' if run is None else run}.{key}".encode())
        return mac.hexdigest()[:TAG_LENGTH]

    def verified(self, message_id: str | None) -> tuple[int, int] | None:
        """``(run id, delivery id)`` named by a Herald Message-ID of a delivery (brackets optional,
        any case) whose tag holds; None for any other id, an untagged one (sent before tags, or
        forged) or a forged tag."""
        match = OWN_MESSAGE_ID.fullmatch((message_id or "").strip().strip("<>").strip())
        if match is None or match[3] is None or not match[1].isdigit() or not match[2].isdigit():
            return None
        run, key = int(match[1]), int(match[2])
        if not hmac.compare_digest(match[3].lower(), self.tag(run, key)):
            return None
        return run, key


@lru_cache(maxsize=8)
def _tagger(secret: str) -> MessageIdTagger:
    return MessageIdTagger(secret)


def tagger() -> MessageIdTagger:
    """The current app's tagger (under its SECRET_KEY)."""
    return _tagger(current_app.config["SECRET_KEY"])


def is_own_shape(message_id: str | None) -> bool:
    """True when ``message_id`` has the shape of one of Herald's ids (tagged or not)."""
    return OWN_MESSAGE_ID.fullmatch((message_id or "").strip().strip("<>").strip()) is not None
