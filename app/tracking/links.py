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

from ..core.hooks import apply_filters, registry
from ..core.settings.services import get_option
from ..mail.masking import Mask
from ..mail.placeholders import Placeholder
from ..mail.tokens import make_token, read_token, token_signer

ANCHOR_RE = re.compile(r"<a\b[^>]*>", re.IGNORECASE)
HREF_RE = re.compile(r"""(\bhref\s*=\s*)(?:"([^"]*)"|'([^']*)')""", re.IGNORECASE)
EXPLICIT_RE = re.compile(r"\sdata-track(?:\s*=\s*(?:\"[^\"]*\"|'[^']*'|[^\s>]+))?(?=[\s/>])",
                         re.IGNORECASE)
BODY_END_RE = re.compile(r"</body\s*>", re.IGNORECASE)
PIXEL = ('<img src="{src}" width="1" height="1" alt="" '
         'style="display:block;width:1px;height:1px;border:0" aria-hidden="true">')
LINK_CACHE_SIZE = 5000
RECIPIENT_SLOT = "_tracking_recipient"


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
    return _redirect_url(current_app.config["BASE_URL"], link, recipient if per_recipient() else None)


def _redirect_url(base_url: str, link: str, recipient: str | None) -> str:
    """The click redirect of link token ``link``, naming ``recipient`` when given."""
    return f"{base_url}/t/c/{link}/{recipient}" if recipient else f"{base_url}/t/c/{link}"


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


def is_trackable_url(url: str, base_url: str | None = None) -> bool:
    """True for absolute http(s) URLs that are not Herald's own unsubscribe or tracking links
    (``base_url``: Herald's, from the config when not given)."""
    return _trackable(url, _own_prefixes(base_url or current_app.config["BASE_URL"]))


def _own_prefixes(base_url: str) -> tuple[str, str]:
    """The lower-case beginnings of Herald's own links under ``base_url`` (never tracked)."""
    base = base_url.lower()
    return f"{base}/u/", f"{base}/t/"


def _trackable(url: str, own: tuple[str, str]) -> bool:
    lowered = url.strip().lower()
    return lowered.startswith(("http://", "https://")) and not lowered.startswith(own)


def _rewrite_anchor(tag: str, run_id, recipient, track_all: bool, template=None) -> str:
    explicit = EXPLICIT_RE.search(tag) is not None
    if not (track_all or explicit):
        return tag
    match = HREF_RE.search(tag)
    if match is not None:
        raw = match.group(2) if match.group(2) is not None else match.group(3)
        if template is not None and template.mask.has_words(raw):
            target = template.personal_href(raw)  # a placeholder filled per message
        else:
            target = click_url(html_lib.unescape(raw), run_id, recipient)
            target = html_lib.escape(target) if target is not None else None
        if target is not None:
            tag = f'{tag[:match.start()]}{match.group(1)}"{target}"{tag[match.end():]}'
    return EXPLICIT_RE.sub("", tag) if explicit else tag


def _track(html: str, run_id: int, recipient: str, opens: bool, clicks: bool, template=None) -> str:
    explicit = "data-track" in html
    if not (opens or clicks or explicit):
        return html
    if clicks or explicit:
        html = ANCHOR_RE.sub(lambda m: _rewrite_anchor(m.group(0), run_id, recipient, clicks,
                                                       template), html)
    if opens:
        pixel = PIXEL.format(src=html_lib.escape(open_pixel_url(run_id, recipient)))
        match = None
        for match in BODY_END_RE.finditer(html):
            pass
        html = html[:match.start()] + pixel + html[match.start():] if match else html + pixel
    return html


def apply_tracking(html: str, delivery_id: int, run_id: int, opens: bool, clicks: bool) -> str:
    """Rewrite one recipient's HTML: click redirects on its links and an open pixel at the end.

    ``clicks`` tracks every http(s) link; without it only ``data-track`` links are tracked.
    ``opens`` adds the pixel before ``</body>`` (or at the end). One signature per message,
    link tokens reused across recipients. A send loop uses ``TrackedTemplate`` instead.
    """
    return _track(html, run_id, recipient_token(run_id, delivery_id), opens, clicks)


class TrackedTemplate:
    """``apply_tracking`` done once on a run's HTML template, whose placeholders are hidden as
    words of ``mask`` (``app.mail.masking``) and filled per message afterwards: what each message
    needs comes from ``values()``. ``html`` is the result, in words of the same mask.

    Links with a fixed address are rewritten once and the pixel added once; the recipient token
    is the placeholder ``{{ _tracking_recipient }}`` (per-recipient tracking) or written in
    (anonymous tracking: it is the same for everyone). A tracked link whose address holds
    placeholders becomes ``{{ _tracking_href_N }}``, signed per message for its filled address.
    Without a ``mask``, ``html`` is plain HTML with placeholders (hidden here).
    """

    def __init__(self, html: str, run_id: int, opens: bool, clicks: bool, mask: Mask | None = None):
        if mask is None:
            mask = Mask()
            html = mask.hide(html).text
        self.run_id, self.personal, self.mask = run_id, per_recipient(), mask
        self.hrefs = []  # compiled address templates of the links filled per message
        self._base = current_app.config["BASE_URL"]
        self._own = _own_prefixes(self._base)
        self._filtered = registry().has("track_link")
        self._sign_open, self._sign_click = token_signer("open"), token_signer("click")
        recipient = mask.word(Placeholder.named(RECIPIENT_SLOT)) if self.personal else recipient_token(run_id, None)
        self.html = _track(html, run_id, recipient, opens, clicks, self)

    def personal_href(self, raw: str) -> str:
        """The word of a new placeholder standing for address ``raw`` (holding placeholders),
        filled and tracked per message by ``values``."""
        href = self.mask.compile(raw)
        name = f"_tracking_href_{len(self.hrefs)}"
        # An address that is one placeholder and nothing else is its value: HTML-escaped, then
        # unescaped, it is the same string (the loop below skips both)
        whole = href.parts[0] == href.parts[2] == "" and href.defaults is None and len(href.parts) == 3
        self.hrefs.append((name, href, href.parts[1] if whole else None))
        return self.mask.word(Placeholder.named(name))

    def values(self, delivery_id: int, values: dict) -> dict:
        """The tracking placeholders' values for one message (``values``: its other ones)."""
        out = {}
        recipient = None
        if self.personal:
            recipient = out[RECIPIENT_SLOT] = self._sign_open.dumps([self.run_id, delivery_id])
        for name, href, whole in self.hrefs:
            if whole is not None:
                url = values.get(whole)
                url = "" if url is None else url if url.__class__ is str else str(url)
            else:
                url = html_lib.unescape(href.render(values, escape_html=True))
            out[name] = self._click_url(url, recipient) or url
        return out

    def _click_url(self, url: str, recipient: str | None) -> str | None:
        """``click_url`` for an address seen once (no cache), with the settings read once."""
        if not _trackable(url, self._own) or (
                self._filtered and not apply_filters("track_link", True, url, self.run_id)):
            return None
        return _redirect_url(self._base, self._sign_click.dumps([self.run_id, url]), recipient)
