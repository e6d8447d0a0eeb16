"""Property-based fuzzing (Hypothesis): generated requests to every /api/v1 operation of the
published OpenAPI description and to every admin and dashboard form, as each role; no answer may
be a 5xx or take longer than 2 s. Derandomized with bounded examples, so CI sees the same run."""
import json
import re
import time

import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

from app.api.keys import issue_key
from app.api.openapi import SPEC
from app.core.extensions import db
from app.plugins.network_setup import setup_network
from app.testing import csrf_token, login, make_user

SLOW = 2.0
FUZZ = dict(derandomize=True, database=None, deadline=None, phases=(Phase.explicit, Phase.generate),
                suppress_health_check=list(HealthCheck), print_blob=False)  # settings of every fuzz test
HUGE = 2**70
EDGE_TEXT = ["", "0", "-1", "²", "١٢", str(HUGE), "1e400", "NaN", "null", "[]", "\x00", "a\x00b", " ",
             "2030-01-01T10:00", "0001-01-01T00:00+01:00", "Europe/Amsterdam", "{{ x }}", "<script>", "x" * 3000]
TEXT = st.one_of(st.sampled_from(EDGE_TEXT), st.text(st.characters(exclude_categories=("Cs",)), max_size=20))
NUMBER = st.one_of(st.integers(-5, 60), st.integers(-HUGE, HUGE), st.sampled_from([2**31 - 1, 2**31, 2**63]))
ANY_JSON = st.recursive(st.none() | st.booleans() | NUMBER | st.floats(allow_nan=False) | TEXT,
                        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(TEXT, inner, max_size=3),
                        max_leaves=8)
RAW_BODIES = ["[" * 3000 + "]" * 3000, '{"subject": "\\ud800"}', '{"kind": 1' + "0" * 400 + "}", "[1, 2]",
              "{", '{"kind": NaN}', '{"customer_ids": [%s]}' % ",".join(["1"] * 20000), "\xff"]
PATH_TEXT = ["²", "-1", "abc", "0", str(HUGE), "1.5", "pause", "cancel", "resend-unknown"]
QUERY_NAMES = ["after", "before", "limit", "q", "kind", "status", "label", "cursor", "since", "customer",
               "customer_q", "product_q", "customer_after", "email", "reason", "source", "next"]


def from_schema(schema) -> st.SearchStrategy:
    """Values that fit ``schema`` (a JSON Schema of the OpenAPI description), roughly."""
    if "enum" in schema:
        return st.sampled_from(schema["enum"])
    kinds = schema.get("type", "string")
    if isinstance(kinds, list):
        return st.one_of(*(from_schema({**schema, "type": kind}) for kind in kinds))
    if kinds == "integer":
        return st.integers(schema.get("minimum", -10), schema.get("maximum", 10**6))
    if kinds == "boolean":
        return st.booleans()
    if kinds == "null":
        return st.none()
    if kinds == "array":
        return st.lists(from_schema(schema.get("items", {})), max_size=min(5, schema.get("maxItems", 5)))
    if kinds == "object":
        return st.fixed_dictionaries({}, optional={k: value_for(v) for k, v in schema.get("properties", {}).items()})
    if schema.get("format") == "date-time":
        return st.sampled_from(["2030-01-01T10:00", "2031-06-30T23:59:00Z", "2020-01-01T00:00", "x"])
    return TEXT


def value_for(schema) -> st.SearchStrategy:
    """Mostly a fitting value, sometimes any JSON at all (wrong types, huge numbers, odd text)."""
    return st.one_of(from_schema(schema), from_schema(schema), ANY_JSON)


def _operations():
    for path, methods in SPEC["paths"].items():
        for method, operation in methods.items():
            yield path, method.upper(), operation


OPERATIONS = list(_operations())


@st.composite
def api_requests(draw, ids):
    """(method, url, body bytes or None) for one operation of the description."""
    path, method, operation = draw(st.sampled_from(OPERATIONS))
    url, query = "/api/v1" + path, {}
    for parameter in operation["parameters"]:
        schema = parameter.get("schema", {})
        if parameter["in"] == "path":
            value = draw(st.one_of(st.sampled_from(ids), st.sampled_from(ids), st.sampled_from(ids),
                                   from_schema(schema), NUMBER, st.sampled_from(PATH_TEXT)))
            url = url.replace("{%s}" % parameter["name"], str(value) or "0")
        elif draw(st.booleans()):
            query[parameter["name"]] = draw(st.one_of(from_schema(schema), TEXT, NUMBER))
    if draw(st.integers(0, 4)) == 0:
        query[draw(st.sampled_from(QUERY_NAMES))] = draw(TEXT)
    body = None
    if "requestBody" in operation:
        schema = operation["requestBody"]["content"]["application/json"]["schema"]
        choice = draw(st.integers(0, 9))
        if choice == 0:
            body = draw(st.sampled_from(RAW_BODIES)).encode("utf-8", "surrogatepass")
        elif choice == 1:
            body = json.dumps(draw(ANY_JSON)).encode()
        else:
            body = json.dumps(draw(from_schema(schema))).encode()
    return method, url, query, body


def _check(response, started, what):
    elapsed = time.monotonic() - started
    assert response.status_code < 500, (what, response.status_code, response.get_data(as_text=True)[:500])
    assert elapsed < SLOW, (what, f"{elapsed:.2f} s")


@pytest.fixture
def fuzz_network(app, admin, customer, committed):
    """An admin with an API key, a customer, the system e-mails installed, and a few broadcasts
    (draft, scheduled, sent notice); committed, as the plugin host reads activations on its own
    connection."""
    setup_network()
    _, secret = issue_key(admin, "fuzz")
    db.session.commit()
    client = app.test_client()
    headers = {"Authorization": f"Bearer {secret}"}
    ids = [1, 2, 3]
    for body in ({"kind": "notice", "subject": "Hi", "body_html": "<p>x</p>", "customer_ids": [customer.id]},
                 {"kind": "email", "subject": "Hi {{ customer_name }}", "body_html": "<p>x</p>",
                  "customer_ids": [customer.id], "send_at": "2031-01-01T10:00"}):
        ids.append(client.post("/api/v1/broadcasts", json=body, headers=headers).get_json()["id"])
    client.post(f"/api/v1/broadcasts/{ids[3]}/send", headers=headers)
    return {"key": headers, "ids": ids, "admin": admin, "customer": customer}


def test_every_api_operation_answers_below_500_within_2_s_for_every_role(app, fuzz_network):
    clients = {"key": (app.test_client(), fuzz_network["key"]), "anonymous": (app.test_client(), {}),
               "admin session": (login(app.test_client(), fuzz_network["admin"]), {}),
               "customer session": (login(app.test_client(), fuzz_network["customer"].user), {})}

    @settings(max_examples=250, **FUZZ)
    @given(role=st.sampled_from(["key", "key", "key", "key", *sorted(clients)]),
           request=api_requests(fuzz_network["ids"]))
    def fuzz(role, request):
        method, url, query, body = request
        client, headers = clients[role]
        started = time.monotonic()
        response = client.open(url, method=method, query_string=query, data=body, headers=headers,
                               content_type="application/json" if body is not None else None)
        _check(response, started, (role, method, url, query, body and body[:200]))
        db.session.rollback()

    fuzz()


FORM_RE = re.compile(r'<form\b[^>]*>.*?</form>', re.S | re.I)
ACTION_RE = re.compile(r'action="([^"]*)"')
NAME_RE = re.compile(r'<(?:input|select|textarea|button)\b[^>]*\bname="([^"]+)"', re.I)
SKIPPED = ("auth.logout", "static", "api_keys.revoke_key", "auth.login")


def _forms(app, clients, ids):
    """(url, method, field names) of every form on every admin and dashboard page, plus every
    POST route (its form's fields, or none) and every GET page."""
    adapter = app.url_map.bind("localhost")
    targets = {}
    for rule in app.url_map.iter_rules():
        if rule.endpoint in SKIPPED or not rule.rule.startswith(("/network", "/dashboard")):
            continue
        values = {}
        for name in rule.arguments:
            converter = rule._converters[name].__class__.__name__
            values[name] = ids[-1] if "Integer" in converter or "Id" in converter else (
                re.findall(r"\w+", rule._converters[name].regex)[0] if "Any" in converter else "welcome")
        url = adapter.build(rule.endpoint, values)
        client = clients["admin" if rule.rule.startswith("/network") else "customer"]
        for method in sorted(rule.methods & {"GET", "POST"}):
            targets.setdefault((url, method), set())
        if "GET" in rule.methods:
            page = client.get(url).get_data(as_text=True)
            for form in FORM_RE.findall(page):
                if 'method="post"' not in form.lower():
                    continue
                action = ACTION_RE.search(form)
                target = (action.group(1) if action and action.group(1) else url).split("?")[0]
                targets.setdefault((target, "POST"), set()).update(NAME_RE.findall(form))
    return [(url, method, sorted(names - {"csrf_token"})) for (url, method), names in sorted(targets.items())
            if url.startswith(("/network", "/dashboard"))]  # not /logout: each role keeps its session


def test_every_admin_form_and_page_answers_below_500_within_2_s_for_every_role(app, fuzz_network):
    make_user("other@example.com")
    clients = {"admin": login(app.test_client(), fuzz_network["admin"]),
               "customer": login(app.test_client(), fuzz_network["customer"].user),
               "anonymous": app.test_client()}
    tokens = {}
    for role, page in (("admin", "/network/"), ("customer", "/dashboard/"), ("anonymous", "/login")):
        tokens[role] = csrf_token(clients[role], page)
    targets = _forms(app, clients, fuzz_network["ids"])
    assert len(targets) > 60

    @settings(max_examples=450, **FUZZ)
    @given(role=st.sampled_from(["admin", "admin", "admin", "customer", "anonymous"]),
           target=st.sampled_from(targets), data=st.data())
    def fuzz(role, target, data):
        url, method, names = target
        fields = {name: data.draw(st.one_of(TEXT, NUMBER.map(str)), label=name) for name in names
                  if data.draw(st.integers(0, 5), label="keep") > 0}
        query = {data.draw(st.sampled_from(QUERY_NAMES)): data.draw(TEXT)} if data.draw(st.booleans()) else {}
        if method == "POST":
            fields["csrf_token"] = tokens[role]
        started = time.monotonic()
        response = clients[role].open(url, method=method, query_string=query,
                                      data=fields if method == "POST" else None)
        _check(response, started, (role, method, url, query, fields))
        db.session.rollback()

    fuzz()
