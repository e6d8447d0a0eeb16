"""Open pixel and click redirects for broadcast e-mails, with signed tokens.

The delivery engine calls ``apply_tracking(html, delivery_id, run_id, opens, clicks)`` on each
recipient's rendered HTML. A click token signs the destination URL itself, so the redirect can
only ever lead to a URL that was in that message (no open redirect, and personalised links work
without storing a link list per run); a tampered token is unreadable and answers 404.

Explicit tracked links: an ``<a href="https://..." data-track>`` link is tracked even when the
broadcast's click tracking is off (mark only the links you care about). With click tracking on,
every http(s) link is tracked. Never tracked: unsubscribe links, mailto:, tel:, anchors.

Anonymous tracking (the default, setting ``tracking.per_recipient`` off) puts no recipient in the
tokens: every recipient of a run gets the same pixel and the same link tokens.
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


def per_recipient(cached: bool = True) -> bool:
    """True when the network tracks per recipient (read once per request or job when ``cached``)."""
    value = g.get("_tracking_per_recipient") if cached else None
    if value is None:
        value = g._tracking_per_recipient = bool(get_option("tracking.per_recipient", False))
    return value


def open_pixel_url(run_id: int, delivery_id: int | None) -> str:
    """The pixel URL for one recipient (no recipient in it with anonymous tracking)."""
    token = make_token("open", [run_id, delivery_id if per_recipient() else None])
    return f"{current_app.config['BASE_URL']}/t/o/{token}.gif"


def click_url(url: str, run_id: int, delivery_id: int | None) -> str:
    """The redirect URL that counts a click on ``url`` and then goes there."""
    token = make_token("click", [run_id, delivery_id if per_recipient() else None, url])
    return f"{current_app.config['BASE_URL']}/t/c/{token}"


def read_open_token(token: str):
    """``(run_id, delivery_id)`` from a pixel token, or None when it was tampered with."""
    payload = read_token("open", token)
    if (isinstance(payload, list) and len(payload) == 2 and isinstance(payload[0], int)
            and (payload[1] is None or isinstance(payload[1], int))):
        return payload[0], payload[1]
    return None


def read_click_token(token: str):
    """``(run_id, delivery_id, url)`` from a click token, or None when invalid or not http(s)."""
    payload = read_token("click", token)
    if (isinstance(payload, list) and len(payload) == 3 and isinstance(payload[0], int)
            and (payload[1] is None or isinstance(payload[1], int))
            and isinstance(payload[2], str) and is_trackable_url(payload[2])):
        return payload[0], payload[1], payload[2]
    return None


def is_trackable_url(url: str) -> bool:
    """True for absolute http(s) URLs that are not Herald's own unsubscribe or tracking links."""
    lowered = url.strip().lower()
    if not lowered.startswith(("http://", "https://")):
        return False
    base = current_app.config["BASE_URL"].lower()
    return not lowered.startswith((f"{base}/u/", f"{base}/t/"))


def _rewrite_anchor(tag: str, run_id, delivery_id, track_all: bool) -> str:
    explicit = EXPLICIT_RE.search(tag) is not None
    if not (track_all or explicit):
        return tag
    match = HREF_RE.search(tag)
    if match is None:
        return tag
    url = html_lib.unescape(match.group(2) if match.group(2) is not None else match.group(3))
    if not is_trackable_url(url) or not apply_filters("track_link", True, url, run_id):
        return EXPLICIT_RE.sub("", tag)
    new_href = f'{match.group(1)}"{html_lib.escape(click_url(url, run_id, delivery_id))}"'
    return EXPLICIT_RE.sub("", tag[:match.start()] + new_href + tag[match.end():])


def apply_tracking(html: str, delivery_id: int, run_id: int, opens: bool, clicks: bool) -> str:
    """Rewrite one recipient's HTML: click redirects on its links and an open pixel at the end.

    ``clicks`` tracks every http(s) link; without it only ``data-track`` links are tracked.
    ``opens`` adds the pixel before ``</body>`` (or at the end). Fast enough for the send loop:
    two regex passes and one HMAC per tracked link.
    """
    if clicks or "data-track" in html:
        html = ANCHOR_RE.sub(lambda m: _rewrite_anchor(m.group(0), run_id, delivery_id, clicks), html)
    if opens:
        pixel = PIXEL.format(src=html_lib.escape(open_pixel_url(run_id, delivery_id)))
        match = None
        for match in BODY_END_RE.finditer(html):
            pass
        html = html[:match.start()] + pixel + html[match.start():] if match else html + pixel
    return html
