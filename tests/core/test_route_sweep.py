"""Every route, swept: the role matrix (anonymous, customer, super admin) and the CSRF check on
every state-changing method, so a new page cannot forget either."""
import re

from flask import g
from werkzeug.routing import AnyConverter, IntegerConverter

from app.testing import csrf_token, login

CHANGING = {"POST", "PUT", "PATCH", "DELETE"}
# Routes that take no session, hence no CSRF token: their own proof is checked instead.
KEYED_PREFIXES = ("/api/", "/hooks/")
SIGNED_TOKEN_ENDPOINTS = {"tracking.unsubscribe_link"}


def _value(rule, name):
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        return 1
    if isinstance(converter, AnyConverter):
        return re.findall(r"\w+", converter.regex)[0]
    return "x"


def _routes(app, prefix=""):
    """(rule, url, methods) of every route under ``prefix``, with sample values in the URL."""
    adapter = app.url_map.bind("localhost")
    for rule in sorted(app.url_map.iter_rules(), key=lambda r: r.rule):
        if prefix and not (rule.rule == prefix or rule.rule.startswith(prefix + "/")):
            continue
        url = adapter.build(rule.endpoint, {name: _value(rule, name) for name in rule.arguments})
        yield rule, url, sorted(rule.methods & ({"GET"} | CHANGING))


def _fresh():
    for cached in ("csrf_token", "_login_user"):  # tests share one app context, so one ``g``
        g.pop(cached, None)


def test_the_sweep_sees_the_new_pages(app):
    endpoints = {rule.endpoint for rule, _, _ in _routes(app, "/network")}
    assert {"audit.index", "audit.export", "auth.end_other_sessions", "mail_frame.show"} <= endpoints


def test_admin_routes_refuse_anonymous_visitors_and_customers(app, customer):
    anonymous = app.test_client()
    _fresh()
    as_customer = login(app.test_client(), customer.user)
    token = csrf_token(as_customer, "/dashboard/")
    wrong = []
    for rule, url, methods in _routes(app, "/network"):
        for method in methods:
            _fresh()
            response = anonymous.open(url, method=method)
            if response.status_code not in (302, 400) or (
                    response.status_code == 302 and "/login?next=" not in response.location):
                wrong.append(("anonymous", method, url, response.status_code))
            _fresh()
            response = as_customer.open(url, method=method, data={"csrf_token": token},
                                        headers={"X-CSRFToken": token})
            if response.status_code != 403:
                wrong.append(("customer", method, url, response.status_code))
    assert not wrong


def test_dashboard_routes_need_a_login(app):
    client = app.test_client()
    wrong = [(method, url) for _, url, methods in _routes(app, "/dashboard") for method in methods
             if client.open(url, method=method).status_code not in (302, 400)]
    assert not wrong


def test_every_state_changing_route_checks_csrf(app, admin_client):
    wrong, checked = [], 0
    for rule, url, methods in _routes(app):
        if rule.rule.startswith(KEYED_PREFIXES) or rule.endpoint in SIGNED_TOKEN_ENDPOINTS:
            continue
        for method in set(methods) & CHANGING:
            _fresh()
            response = admin_client.open(url, method=method, data={"anything": "1"})
            checked += 1
            if response.status_code != 400 or "CSRF" not in response.get_data(as_text=True):
                wrong.append((method, url, response.status_code))
    assert checked > 30 and not wrong


def test_keyed_routes_take_no_session(app, admin_client):
    """Routes without a CSRF check never act on a session cookie: an API key or a signature is needed."""
    wrong = []
    for rule, url, methods in _routes(app):
        if rule.rule.startswith("/api/"):
            for method in methods:
                _fresh()
                status = admin_client.open(url, method=method).status_code
                if status != 401:
                    wrong.append((method, url, status))
    assert not wrong


PUBLIC_ENDPOINTS = {"auth.index_root", "network_public.confirm_email_link", "auth.login", "auth.logout", "static",
                    "tracking.click", "tracking.open_pixel", "tracking.unsubscribe_link",
                    "tracking.resubscribe_link", "tracking_hooks.bounces",
                    "plugins_static.file"}  # a plugin's own static files, like "static"


def test_only_known_routes_live_outside_the_role_checked_areas(app):
    """A page outside /network (super admins), /dashboard (logged in) and /api (keys) gets no role
    check: adding one must be a decision, made here."""
    outside = {rule.endpoint for rule, _, _ in _routes(app)
               if not rule.rule.startswith(("/network/", "/dashboard/", "/api/"))
               and rule.rule not in ("/network", "/dashboard")}
    assert outside == PUBLIC_ENDPOINTS
