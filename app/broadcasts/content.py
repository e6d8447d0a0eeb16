"""Broadcast content: the placeholders a broadcast offers, their values, and sanitised HTML."""
import re

import bleach
import tinycss2
from bleach.css_sanitizer import CSSSanitizer

from ..mail.masking import Mask

BROADCAST_PLACEHOLDERS = {
    "customer_name": "The customer's full name",
    "customer_first_name": "The customer's first name",
    "customer_email": "The customer's e-mail address",
    "site_url": "The address of the customer's first site",
    "network_name": "The network's name",
    "unsubscribe_url": "The customer's one-click unsubscribe link (e-mails only)",
}
ALLOWED_TAGS = {
    "a", "abbr", "b", "blockquote", "br", "code", "div", "em", "h1", "h2", "h3", "h4", "h5", "h6",
    "hr", "i", "img", "li", "ol", "p", "pre", "s", "small", "span", "strong", "sub", "sup", "table",
    "tbody", "td", "tfoot", "th", "thead", "tr", "u", "ul", "center", "font",
}
ALLOWED_ATTRIBUTES = {
    "*": ["style", "class", "title", "align", "dir", "lang"],
    "a": ["href", "name", "target", "rel", "data-track"],  # data-track: an explicit tracked link
    "img": ["src", "alt", "width", "height"],
    "td": ["colspan", "rowspan", "width", "valign", "bgcolor"],
    "th": ["colspan", "rowspan", "width", "valign", "bgcolor", "scope"],
    "table": ["width", "cellpadding", "cellspacing", "border", "bgcolor", "role"],
    "font": ["color", "face", "size"],
}
ALLOWED_PROTOCOLS = {"http", "https", "mailto", "tel"}
_UNSAFE_CSS_VALUE = re.compile(r"expression\s*\(|javascript\s*:|vbscript\s*:|-moz-binding|behavior", re.I)


class SafeCSSSanitizer(CSSSanitizer):
    """bleach's CSS sanitizer (allowed properties only) that also drops declarations whose value
    could run code: IE's ``expression()``, ``javascript:`` URLs, XBL bindings."""

    def sanitize_css(self, style):
        """Allowed, harmless declarations of ``style``, serialised again."""
        kept = []
        for declaration in tinycss2.parse_declaration_list(super().sanitize_css(style)):
            if declaration.type != "declaration":
                continue
            value = tinycss2.serialize(declaration.value).strip()
            if not _UNSAFE_CSS_VALUE.search(value):
                kept.append(f"{declaration.name}: {value}{' !important' if declaration.important else ''};")
        return " ".join(kept)


_CSS = SafeCSSSanitizer()


def sanitize_html(value: str) -> str:
    """Clean HTML against the allowlist: no script, no event handlers, no ``javascript:`` URLs.

    Placeholders are kept exactly as typed: hidden from bleach as plain words
    (``app.mail.masking``), so the quotes of ``default("…")`` never end an attribute and
    ``{{ site_url }}`` in an href is no URL scheme at all.
    """
    mask = Mask()
    hidden = mask.hide(value or "").text
    return mask.restore(bleach.clean(hidden, tags=ALLOWED_TAGS, attributes=ALLOWED_ATTRIBUTES,
                                     protocols=ALLOWED_PROTOCOLS, css_sanitizer=_CSS, strip=True,
                                     strip_comments=True))


def recipient_values(customer_id, email, name, site_url="", unsubscribe_url="", network_name="") -> dict:
    """The placeholder values for one recipient."""
    name = name or ""
    return {
        "customer_name": name,
        "customer_first_name": name.split(" ", 1)[0] if name else "",
        "customer_email": email,
        "site_url": site_url,
        "unsubscribe_url": unsubscribe_url,
        "network_name": network_name,
        "customer_id": customer_id,
    }
