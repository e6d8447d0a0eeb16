"""The notices panel of the customer dashboard: each notice's markup built once, filled per view.

The markup around a notice (the ``notice`` macro of broadcasts/notices/macros.html) depends only
on the run, its type, whether it can be dismissed and the app's script root. It is rendered once
per app with markers where the subject, the body and the CSRF token go, and kept; a dashboard view
then only joins those parts with the customer's rendered subject and body. The content itself is
never cached (it is filled from the row the query just read), so an edit shows at once.
"""
import re

from flask import current_app, render_template, request, url_for
from flask_login import current_user
from flask_wtf.csrf import generate_csrf
from markupsafe import Markup, escape

from .notices import LiveNotice, live_notices

# Markers no notice type, run id or URL can contain; escaping leaves them as they are.
SUBJECT, BODY, TOKEN = "\x00subject\x00", "\x00body\x00", "\x00token\x00"
_SLOTS = re.compile("(\x00(?:subject|body|token)\x00)")
CACHE_SIZE = 4096  # fragments kept per app; the cache starts again when full


def notices_panel(panels, customer):
    """``customer_dashboard_panels`` filter: the customer's live notices on top of the dashboard."""
    notices = live_notices(customer, current_user.id)
    if not notices:
        return panels
    html = Markup(render_template("broadcasts/notices/panel.html", notices_html=render_notices(notices)))
    return [("", html), *panels]  # no title: the notices are banners, not a titled card


def render_notices(notices: list[LiveNotice]) -> Markup:
    """The markup of ``notices`` in order, as the ``notice`` macro renders each of them."""
    token = str(escape(generate_csrf()))
    cache = current_app.extensions.setdefault("herald_notice_fragments", {})
    root = request.script_root
    out = []
    for notice in notices:
        subject = str(escape(notice.subject))
        key = (notice.run_id, notice.notice_type, notice.dismissible, root)
        for part in cache.get(key) or _fragment(cache, key):
            out.append(subject if part is SUBJECT else notice.html if part is BODY
                       else token if part is TOKEN else part)
    return Markup("".join(out))


def _fragment(cache: dict, key: tuple) -> tuple:
    """The macro's output for the notice ``key`` (run id, type, dismissible, script root), split
    into literal parts and the slot markers, and kept in ``cache``."""
    run_id, notice_type, dismissible, _root = key
    macro = current_app.jinja_env.get_template("broadcasts/notices/macros.html").module.notice
    dismiss_url = url_for("notices.dismiss_notice", run_id=run_id) if dismissible else None
    html = str(macro(notice_type, SUBJECT, Markup(BODY), run_id, dismiss_url, TOKEN))
    slots = {SUBJECT: SUBJECT, BODY: BODY, TOKEN: TOKEN}
    parts = tuple(slots.get(piece, piece) for piece in _SLOTS.split(html) if piece)
    if not current_app.jinja_env.auto_reload:  # else templates may change while the app runs
        if len(cache) >= CACHE_SIZE:
            cache.clear()
        cache[key] = parts
    return parts
