"""The fuzz test's targets: every (route, method, role) of the app's URL map, and what a crawl learns about each route."""
import html
import re
from dataclasses import dataclass, field
from urllib.parse import urlsplit

from flask import g
from werkzeug.routing import AnyConverter, IntegerConverter

ROLES = ("admin", "customer", "anonymous", "key")  # super admin session, customer session, nobody, API key
METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"}
# Routes left out of the sweep, each with its reason. Everything else in the URL map is fuzzed, so a new
# route is fuzzed the day it is added.
EXCEPTIONS: dict[str, str] = {}
# Requests that end the role's credentials (its session token rotates, or its key is revoked): the sweep
# logs the role in again (and issues a new key) after each one, and runs them last.
ENDS_CREDENTIALS = {"auth.logout", "auth.change_password", "auth.end_other_sessions", "api_keys.revoke_key"}
# Requests that remove the sample rows or plugins later targets use: run last too.
DESTRUCTIVE = re.compile(r"delete|uninstall|clear|revoke|logout|remove|password|sessions")

FREE_TEXT = {"text", "email", "search", "url", "tel", "password", "number", "datetime-local"}
FORM_RE = re.compile(r"<form\b([^>]*)>(.*?)</form>", re.S | re.I)
ATTR_RE = re.compile(r'\b([\w-]+)="([^"]*)"')
FIELD_RE = re.compile(r"<(input|textarea|select|button)\b([^>]*)>", re.I)
OPTION_RE = re.compile(r'<option\b[^>]*\bvalue="([^"]*)"', re.I)
LINK_RE = re.compile(r'\b(?:href|action|src|data-[\w-]+)="(/[^"]*)"')


@dataclass
class Route:
    """One rule of the URL map, with the URLs, fields and values a crawl of the app's pages found."""
    rule: object
    urls: set = field(default_factory=set)
    fields: dict = field(default_factory=dict)  # name -> set of values seen (defaults, options)
    files: set = field(default_factory=set)  # names of file inputs
    texts: set = field(default_factory=set)  # names of free-text fields (text inputs, textareas, JSON text)
    areas: set = field(default_factory=set)  # names of textareas: the long-text fields

    @property
    def endpoint(self) -> str:
        return self.rule.endpoint

    @property
    def main_role(self) -> str:
        """The role the route is for: the API's key, /network's super admin, /dashboard's customer, else nobody."""
        path = self.rule.rule
        return ("key" if path.startswith("/api/") else "admin" if path.startswith("/network")
                else "customer" if path.startswith("/dashboard") else "anonymous")


def fresh():
    """Forget what the shared app context cached (the CSRF token and the logged-in user) between requests."""
    for cached in ("csrf_token", "_login_user"):
        g.pop(cached, None)


def routes(app) -> dict:
    """Every rule of ``app`` not in EXCEPTIONS, by its rule text plus endpoint."""
    return {(rule.rule, rule.endpoint): Route(rule) for rule in app.url_map.iter_rules()
            if rule.endpoint not in EXCEPTIONS}


def targets(found: dict) -> list:
    """Every (route key, method, role), the ones that remove things or end sessions last."""
    every = [(key, method, role) for key, route in found.items() for method in sorted(route.rule.methods & METHODS)
             for role in ROLES]
    return sorted(every, key=lambda t: (bool(DESTRUCTIVE.search(t[0][1]) or t[0][1] in ENDS_CREDENTIALS), t))


def sample_value(rule, name, ids):
    """A plausible value for argument ``name`` of ``rule``: a known id, a choice of ``any()``, else text."""
    converter = rule._converters[name]
    if isinstance(converter, IntegerConverter):
        return ids[-1]
    if isinstance(converter, AnyConverter):
        return re.findall(r"\w+", converter.regex)[0]
    return {"slug": "domain_mapping", "action": "pause", "step": "content", "filename": "x.css"}.get(name, "x")


def match(adapter, url, method="GET"):
    """The key (rule text, endpoint) of the rule ``url`` reaches with ``method``, or None."""
    try:
        rule = adapter.match(urlsplit(url).path, method=method, return_rule=True)[0]
    except Exception:  # NotFound, MethodNotAllowed, RequestRedirect, a converter's ValueError
        return None
    return rule.rule, rule.endpoint


def _learn_form(found, adapter, page_url, attrs, body):
    action = html.unescape(dict(ATTR_RE.findall(attrs)).get("action") or page_url)
    route = found.get(match(adapter, action, "POST") or match(adapter, action))
    if route is None:
        return
    route.urls.add(urlsplit(action).path)
    for tag, field_attrs in FIELD_RE.findall(body):
        values = dict(ATTR_RE.findall(field_attrs))
        name = values.get("name")
        if not name or name == "csrf_token":
            continue
        seen = route.fields.setdefault(name, set())
        if "value" in values:
            seen.add(html.unescape(values["value"]))
        if values.get("type") == "file":
            route.files.add(name)
        if tag.lower() == "textarea":
            route.areas.add(name)
        if tag.lower() == "textarea" or tag.lower() == "input" and values.get("type", "text") in FREE_TEXT:
            route.texts.add(name)
    for select in re.findall(r'<select\b[^>]*\bname="([^"]+)"[^>]*>(.*?)</select>', body, re.S | re.I):
        route.fields.setdefault(select[0], set()).update(html.unescape(v) for v in OPTION_RE.findall(select[1]))


def crawl(app, found: dict, clients: dict, ids: list) -> None:
    """GET every route once as its main role (and every page its links lead to), learning URLs, form
    fields and their values, and JSON keys, so generated requests look like the app's own."""
    adapter = app.url_map.bind("localhost")
    queue = []
    for route in found.values():
        rule = route.rule
        if "GET" in rule.methods:
            queue.append((adapter.build(rule.endpoint, {n: sample_value(rule, n, ids) for n in rule.arguments}),
                          route.main_role))
    seen = set()
    while queue:
        url, role = queue.pop(0)
        if url in seen or len(seen) > 400 or role == "key":
            continue
        seen.add(url)
        fresh()
        response = clients[role].get(url)
        text = response.get_data(as_text=True)  # read and closed: a streamed answer ends its context
        response.close()
        if response.status_code != 200 or "html" not in response.mimetype and "json" not in response.mimetype:
            continue
        if response.is_json and isinstance(response.get_json(silent=True), dict):
            route = found.get(match(adapter, url))
            for key, value in response.get_json().items():
                if route is not None and not isinstance(value, (dict, list)):
                    route.fields.setdefault(key, set()).add(str(value))
                    if isinstance(value, str):
                        route.texts.add(key)
        for attrs, body in FORM_RE.findall(text):
            _learn_form(found, adapter, url, attrs, body)
        for link in LINK_RE.findall(text):
            link = html.unescape(link)
            route = found.get(match(adapter, link))
            if route is not None:
                route.urls.add(link)
                if len(route.urls) < 4:
                    queue.append((link, route.main_role))
