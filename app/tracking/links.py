"""Open pixel and click redirects for broadcast e-mails, with signed tokens.

The delivery engine calls ``apply_tracking(html, delivery_id, run_id, opens, clicks)`` on each
recipient's rendered HTML. A click URL is ``/t/c/<link token>[/<recipient token>]``:

- the link token signs ``[run_id, url]``: the redirect can only ever lead to a URL that was in a
  message of that run (no open redirect, personalised links work, no link list to store). It is
  the same for every recipient, so it is signed once per URL and reused (cached per job);
- the recipient token signs ``[run_id, delivery_id]`` once per message and is shared by the pixel
  and every link; it is left out with anonymous tracking. A tampered token of either kind is 404.

Explicit tracked links: an ``<a href="https://..." data-track>`` link is tracked even when the
broadcast's click tracking is off (mark only the links you care about). With click tracking on,
every http(s) link is tracked. Never tracked: unsubscribe links, mailto:, tel:, anchors.

Anonymous tracking (the default, setting ``tracking.per_recipient`` off) puts no recipient in
any URL: every recipient of a run gets the same pixel and the same links.
"""
import html as html_lib
import re

from flask import current_app, g

from ..hooks import apply_filters
from ..settings.services import get_option
from .tokens import make_token, read_token

ANCHOR_RE = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
HREF_RE = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
EXPLICIT_RE = re.compile(r"\sdata-track(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?(?=[\s/>])",
                         re.IGNORECASE)
BODY_END_RE = re.compile(r"</body\s*>", re.IGNORECASE)
PIXEL = ('<img src="{src}" width="1" height="1" alt="" '
         'style="display:block;width:1px;height:1px;border:0" aria-hidden="true">')
LINK_CACHE_SIZE = 5000


def per_recipient(cached: bool = True) -> bool:
    """True when the network tracks per recipient (read once per request or job when ``cached``)."""
    value = g.get("_tracking_per_recipient") if cached else None
    if value is None:
        value = g._tracking_per_recipient = bool(get_option("tracking.per_recipient", False))
    return value


def recipient_token(run_id: int, delivery_id: int | None) -> str:
    """The per-message token naming the recipient (``None`` inside with anonymous tracking)."""
    return make_token("open", [run_id, delivery_id if per_recipient() else None])


def open_pixel_url(run_id: int, recipient: str) -> str:
    """The pixel URL of one message, ``recipient`` being its ``recipient_token``."""
    return f"{current_app.config['BASE_URL']}/t/o/{recipient}.gif"


def _link_token(url: str, run_id: int) -> str | None:
    """The signed link token of ``url`` in ``run_id``, or None when the link is not tracked."""
    cache = g.setdefault("_tracking_link_tokens", {})
    key = (run_id, url)
    if key not in cache:
        if len(cache) >= LINK_CACHE_SIZE:
            cache.clear()
        tracked = is_trackable_url(url) and apply_filters("track_link", True, url, run_id)
        cache[key] = make_token("click", [run_id, url]) if tracked else None
    return cache[key]


def click_url(url: str, run_id: int, recipient: str | None = None) -> str | None:
    """The redirect URL that counts a click on ``url``; None when ``url`` is not trackable."""
    link = _link_token(url, run_id)
    if link is None:
        return None
    suffix = f"/{recipient}" if recipient and per_recipient() else ""
    return f"{current_app.config['BASE_URL']}/t/c/{link}{suffix}"


def read_open_token(token: str):
    """``(run_id, delivery_id)`` from a recipient token, or None when it was tampered with."""
    payload = read_token("open", token)
    if (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
            and (payload[1] is None or isinstance(payload[1], int))):
        return payload[0], payload[1]
    return None


def read_click_token(link: str, recipient: str | None = None):
    """``(run_id, delivery_id, url)`` for a click URL's tokens, or None when anything is invalid."""
    payload = read_token("click", link)
    if not (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
            and isinstance(payload[1], str) and is_trackable_url(payload[1])):
        return None
    delivery_id = None
    if recipient is not None:
        who = read_open_token(recipient)
        if who is None or who[0] != payload[0]:
            return None
        delivery_id = who[1]
    return payload[0], delivery_id, payload[1]


def is_trackable_url(url: str) -> bool:
    """True for absolute http(s) URLs that are not Herald's own unsubscribe or tracking links."""
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    base = current_app.config["BASE_URL"].lower()
    return not lowered.startswith((f"{base}/u/", f"{base}/t/"))


def _rewrite_anchor(tag: str, run_id, recipient, track_all: bool) -> str:
    explicit = EXPLICIT_RE.search(tag) is not None
    if not (track_all or explicit):
        return tag
    match = HREF_RE.search(tag)
    if match is not None:
        url = html_lib.unescape(match.group(2) if match.group(2) is not None else match.group(3))
        target = click_url(url, run_id, recipient)
        if target is not None:
            tag = f'{tag[:match.start()]}{match.group(1)}"{html_lib.escape(target)}"{tag[match.end():]}'
    return EXPLICIT_RE.sub("", tag) if explicit else tag


def apply_tracking(html: str, delivery_id: int, run_id: int, opens: bool, clicks: bool) -> str:
    """Rewrite one recipient's HTML: click redirects on its links and an open pixel at the end.

    ``clicks`` tracks every http(s) link; without it only ``data-track`` links are tracked.
    ``opens`` adds the pixel before ``</body>`` (or at the end). Built for the send loop: one
    signature per message, link tokens reused across recipients, two regex passes.
    """
    explicit = "data-track" in html
    if not (opens or clicks or explicit):
        return html
    recipient = recipient_token(run_id, delivery_id)
    if clicks or explicit:
        html = ANCHOR_RE.sub(lambda m: _rewrite_anchor(m.group(0), run_id, recipient, clicks), html)
    if opens:
        pixel = PIXEL.format(src=html_lib.escape(open_pixel_url(run_id, recipient)))
        match = None
        for match in BODY_END_RE.finditer(html):
            pass
        html = html[:match.start()] + pixel + html[match.start():] if match else html + pixel
    return html
