"""One action per rendered form: a nonce in the form, claimed in Redis, so a double click or a
resent POST records a payment or copies a broadcast once.

A form that creates something renders ``{{ submission_field() }}`` (a hidden ``submission``
input holding a new random nonce) beside its CSRF token; its view runs the action inside
``once(request.form)``. The first request with a nonce claims it (Redis ``SET NX``, kept
``TTL`` seconds) and, when the action succeeds, leaves the address of its result there; a later
request with the same nonce raises ``AlreadySubmitted`` (with that address, or "" while the
first is still running) and does nothing. An action that fails gives its nonce back, so the
same form can be sent again. A request without the field (an API client, a page rendered
before this existed) is not checked, and neither is any request while Redis is away (the
action runs: a duplicate is better than a refused payment).
"""
import logging
import secrets
from contextlib import contextmanager

from markupsafe import Markup

from .extensions import redis_store
from .transient import is_transient

log = logging.getLogger(__name__)
FIELD = "submission"
TTL = 86_400  # seconds a nonce is remembered: a form kept open longer acts again
_PENDING = "pending"
_MAX_LENGTH = 64  # a nonce is 22 characters; anything longer is not one of ours


class AlreadySubmitted(Exception):
    """The form was sent before; ``url``: where its result is ("" while still being made)."""

    def __init__(self, url: str):
        super().__init__("This form was already sent.")
        self.url = url


def submission_field() -> Markup:
    """The hidden input carrying a new nonce (a Jinja global)."""
    return Markup('<input type="hidden" name="%s" value="%s">') % (FIELD, secrets.token_urlsafe(16))


class Submission:
    """A claimed nonce (or none): ``result(url)`` records where the action's result is."""

    def __init__(self, key: str | None):
        self.key = key

    def result(self, url: str) -> None:
        """Remember ``url`` for a repeat of this submission (call after the commit)."""
        if self.key is not None:
            _quietly(lambda: redis_store.client.set(self.key, url, ex=TTL))


def _quietly(command):
    try:
        return command()
    except Exception as error:  # noqa: BLE001 - Redis away: the guard is off, the action is not
        if not is_transient(error):
            raise
        log.warning("submission guard off, Redis unavailable: %s", error)
        return None


@contextmanager
def once(form):
    """Run the block once per nonce of ``form`` (``request.form``); raises AlreadySubmitted for a
    nonce seen before. An exception from the block frees the nonce again and passes through."""
    nonce = (form.get(FIELD) or "")[:_MAX_LENGTH + 1]
    key = redis_store.key("submission", nonce) if nonce and len(nonce) <= _MAX_LENGTH else None
    if key is not None:
        claimed = _quietly(lambda: redis_store.client.set(key, _PENDING, nx=True, ex=TTL) or False)
        if claimed is None:  # Redis away: unchecked
            key = None
        elif not claimed:
            seen = _quietly(lambda: redis_store.client.get(key)) or b""
            seen = seen.decode() if isinstance(seen, bytes) else seen
            raise AlreadySubmitted("" if seen == _PENDING else seen)
    submission = Submission(key)
    try:
        yield submission
    except BaseException:
        if key is not None:
            _quietly(lambda: redis_store.client.delete(key))
        raise
