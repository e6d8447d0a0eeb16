"""Property-based fuzzing (Hypothesis): generated requests to every route and method of the URL map (the
/api/v1 operations, every admin and dashboard form and JSON route, the public pages), as each role; no answer
may be a 5xx or take 2 s or longer, and every (route, method, role) must have been tried. Seeded per
target, so CI sees the same run."""
import io
import re
import time
import warnings
import zlib
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, Phase, example, given, seed, settings

from app.api.keys import issue_key
from app.core.extensions import db
from app.plugins.network_setup import setup_network
from app.testing import csrf_token, login, make_user
from tests.core.fuzz_content import json_text
from tests.core.fuzz_requests import boundary_requests, fit_request_line, requests_for, to_bytes
from tests.core.fuzz_targets import ENDS_CREDENTIALS, ROLES, crawl, fresh, match, routes, targets

SLOW = 2.0  # seconds of CPU a request may spend (the test client serves it in this thread)
HANG = 10.0  # seconds of wall time: a request waiting this long hangs, however loaded the machine
MAIN_EXAMPLES, OTHER_EXAMPLES = 6, 2  # per target: the route's own role, and the roles it refuses
FUZZ = dict(database=None, deadline=None, phases=(Phase.explicit, Phase.generate),
            suppress_health_check=list(HealthCheck), print_blob=False)
# Findings of review 14 fixed on branch `limits` and merged: none is tolerated any more.
PENDING_LIMITS: dict = {}
# Found by this sweep and not fixed yet: tolerated, with a warning each run. None is open (the slow
# settings and suppression forms, the upload of 20,000 rows and the CSS inliner's crash are fixed).
OPEN_FINDINGS: dict = {}


class Roles:
    """A logged-in test client per role (a new login, token and key whenever a request ended them)."""

    def __init__(self, app, network):
        self.app, self.network = app, network
        self.restore()

    def restore(self):
        """Log the admin and the customer in again, read their CSRF tokens and issue a new API key."""
        fresh()
        _, secret = issue_key(db.session.merge(self.network["admin"]), "fuzz")
        db.session.commit()
        self.clients = {"admin": login(self.app.test_client(), self.network["admin"].id),
                        "customer": login(self.app.test_client(), self.network["customer"].user.id),
                        "anonymous": self.app.test_client(), "key": self.app.test_client()}
        self.headers = {"key": {"Authorization": f"Bearer {secret}"}}
        for role, page in (("admin", "/network/"), ("customer", "/dashboard/"), ("anonymous", "/login")):
            fresh()
            token = csrf_token(self.clients[role], page)
            self.headers[role] = {"X-CSRFToken": token}
        self.tokens = {role: self.headers[role].get("X-CSRFToken", "") for role in ROLES}

    def send(self, role, method, url, query, body, content_type, upload):
        """The response to one request as ``role``."""
        fresh()
        data = body
        if isinstance(body, dict) and method == "GET":
            data, query = None, {**body, **query}
        elif isinstance(body, dict) and upload is not None:  # multipart: werkzeug writes text as UTF-8
            data = {name: to_bytes(value).decode("utf-8", "replace") for name, value in body.items()}
            data.update({"csrf_token": self.tokens[role], upload[0]: (io.BytesIO(upload[1]), upload[2])})
        elif isinstance(body, dict):
            data = urlencode({**{k: to_bytes(v) for k, v in body.items()}, "csrf_token": self.tokens[role]})
            content_type = "application/x-www-form-urlencoded"
        query = urlencode({k: to_bytes(v) for k, v in fit_request_line(url, query).items()})
        return self.clients[role].open(url, method=method, query_string=query, data=data, headers=self.headers[role], content_type=content_type)


@pytest.fixture
def fuzz_network(app, admin, customer, committed):
    """An admin, a customer, the system e-mails installed, broadcasts (draft, scheduled, sent notice with
    its delivery run) and a suppression; committed, as the plugin host reads activations on its own
    connection."""
    setup_network()
    make_user("other@example.com")
    _, secret = issue_key(admin, "setup")
    db.session.commit()
    client, headers = app.test_client(), {"Authorization": f"Bearer {secret}"}
    ids = [1, 2, 3]
    for body in ({"kind": "notice", "subject": "Hi", "body_html": "<p>x</p>", "customer_ids": [customer.id]},
                 {"kind": "email", "subject": "Hi {{ customer_name }}", "body_html": "<p>x</p>",
                  "customer_ids": [customer.id], "send_at": "2031-01-01T10:00"}):
        ids.append(client.post("/api/v1/broadcasts", json=body, headers=headers).get_json()["id"])
    client.post(f"/api/v1/broadcasts/{ids[3]}/send", headers=headers)
    return {"ids": ids, "admin": admin, "customer": customer}


def _describe(f):
    title = re.search(r"<title>(.*?)</title>", f["error"])
    return (f"{f['role']} {f['method']} {f['url'][:150]} -> {f['status']} in {f['seconds']:.2f} s of CPU ({f.get('wall', 0):.2f} s wall); "
            f"{title.group(1) if title else f['error'][:300]!r}; body {f['body'][:300]}")


def test_every_route_method_and_role_answers_below_500_within_2_s(app, fuzz_network):
    found = routes(app)
    roles = Roles(app, fuzz_network)
    crawl(app, found, roles.clients, fuzz_network["ids"])
    roles.restore()
    adapter, every, tried, failures = app.url_map.bind("localhost"), targets(found), set(), []

    for key, method, role in every:
        route, ids = found[key], fuzz_network["ids"]
        examples = MAIN_EXAMPLES if role == route.main_role else OTHER_EXAMPLES

        @seed(zlib.crc32(repr((key, method, role)).encode()))
        @settings(max_examples=examples, **FUZZ)
        @given(request=requests_for(route, method, role, ids))
        def fuzz(request):
            url, query, body, content_type, upload = request
            if match(adapter, url, method) == key:
                tried.add((key, method, role))
            started, cpu = time.monotonic(), time.thread_time()
            try:
                response = roles.send(role, method, url, query, body, content_type, upload)
                status, error = response.status_code, response.get_data(as_text=True)[:2000]
                response.close()
            except Exception as exception:  # the test client re-raises the app's exceptions: a 500
                status, error = 599, repr(exception)
            wall, seconds = time.monotonic() - started, time.thread_time() - cpu
            db.session.rollback()
            if key[1] in ENDS_CREDENTIALS:
                roles.restore()
            if status >= 500 or seconds >= SLOW or wall >= HANG:
                failure = dict(endpoint=key[1], role=role, method=method, url=url, status=status, seconds=seconds,
                               wall=wall,
                               error=error, body=repr(body)[:100_000] + (f" + {upload[0]}={upload[2]!r}: "
                                                                         f"{len(upload[1]):,} bytes {upload[1][:80]!r}"
                                                                         if upload else ""))
                raise AssertionError(failure)

        if role == route.main_role:
            for request in boundary_requests(adapter, route, method, ids):
                fuzz = example(request=request)(fuzz)
        try:
            fuzz()
        except Exception as error:  # an AssertionError, or a group of them when examples failed differently
            for one in getattr(error, "exceptions", [error]):
                failures.append(one.args[0] if one.args and isinstance(one.args[0], dict) else
                                dict(endpoint=key[1], role=role, method=method, url=key[0], status=0, seconds=0,
                                     error=repr(one), body=""))
    untried = sorted(set(every) - tried)
    assert not untried, f"{len(untried)} targets never reached their route: {untried[:20]}"
    known = [*PENDING_LIMITS.values(), *OPEN_FINDINGS.values()]
    unexpected = [f for f in failures if not any(finding(f) for finding in known)]
    for failure in failures:
        if failure not in unexpected:
            warnings.warn(f"tolerated (PENDING_LIMITS, OPEN_FINDINGS): {_describe(failure)[:300]}", stacklevel=1)
    assert not unexpected, "\n".join(_describe(f) for f in unexpected)


def test_f1_deeply_nested_system_email_blocks_are_refused_not_500(app, fuzz_network):
    roles = Roles(app, fuzz_network)
    body = "{% if customer_name %}" * 99 + "x" + "{% endif %}" * 99
    response = roles.send("admin", "PATCH", "/network/system-emails/emails/1.json", {},
                          json_text({"body": body}), "application/json", None)
    assert response.status_code < 500


def test_f2_deeply_nested_broadcast_html_answers_within_2_s(app, fuzz_network):
    roles = Roles(app, fuzz_network)
    started = time.monotonic()
    response = roles.send("key", "PATCH", f"/api/v1/broadcasts/{fuzz_network['ids'][-1]}", {},
                          json_text({"body_html": "<b>" * 20_000}), "application/json", None)
    assert response.status_code < 500 and time.monotonic() - started < SLOW
