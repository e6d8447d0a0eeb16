"""Login throttling per (account, client group) behind trusted proxies, under parallel guesses,
for IPv6 /64s and per account; equal work for unknown accounts (no timing oracle)."""
import http.client
import threading
from urllib.parse import urlencode, urlsplit

import pytest
import werkzeug.security
from flask import g

from app.auth import models as auth_models
from app.auth import services as auth_services
from app.auth import throttle
from app.testing import CSRF_RE, csrf_token

RIGHT, WRONG = "password123", "nope"


def _login(client, password, email="admin@example.com", addr="198.51.100.1", **headers):
    for cached in ("csrf_token", "_login_user"):  # tests share one app context, so one ``g``
        g.pop(cached, None)
    token = csrf_token(client)
    return client.post("/login", data={"csrf_token": token, "email": email, "password": password},
                       environ_base={"REMOTE_ADDR": addr}, headers=headers)


def _fail(client, times, **kwargs):
    for _ in range(times):
        assert _login(client, WRONG, **kwargs).status_code == 401


def test_failures_from_one_client_do_not_lock_the_admin_out_elsewhere(app, admin):
    attacker, admin_browser = app.test_client(), app.test_client()
    _fail(attacker, app.config["LOGIN_MAX_FAILURES"], addr="203.0.113.66")
    assert _login(attacker, RIGHT, addr="203.0.113.66").status_code == 429  # this pair waits
    assert _login(admin_browser, RIGHT, addr="198.51.100.7").status_code == 302


def test_delays_grow_with_each_failure_and_end_with_a_success(app, admin, redis_client):
    client = app.test_client()
    allowed, first = app.config["LOGIN_MAX_FAILURES"], app.config["LOGIN_DELAY_SECONDS"]
    _fail(client, allowed)
    waits = [int(_login(client, WRONG).headers["Retry-After"])]
    pair = throttle.keys("admin@example.com", "198.51.100.1")[0]
    for _ in range(2):  # let the delay pass (as if time went by), fail again
        redis_client.hset(pair, "last", 0)
        assert _login(client, WRONG).status_code == 401
        waits.append(int(_login(client, WRONG).headers["Retry-After"]))
    assert first - 1 <= waits[0] <= first and waits[1] > waits[0] * 1.5 and waits[2] > waits[1] * 1.5
    redis_client.hset(pair, "last", 0)
    assert _login(client, RIGHT).status_code == 302
    assert not redis_client.exists(pair)  # the right password, once allowed, forgets the failures


def test_spraying_many_accounts_from_one_address_is_slowed_too(app, admin):
    client = app.test_client()
    allowed = app.config["LOGIN_MAX_FAILURES"]
    for i in range(allowed * 4):
        assert _login(client, WRONG, email=f"user{i}@example.com").status_code == 401
    assert _login(client, RIGHT).status_code == 429
    assert _login(client, RIGHT, addr="198.51.100.2").status_code == 302


def test_without_trusted_proxies_a_forwarded_for_header_is_ignored(app, admin):
    client = app.test_client()
    _fail(client, app.config["LOGIN_MAX_FAILURES"], addr="10.0.0.1", **{"X-Forwarded-For": "192.0.2.1"})
    response = _login(client, RIGHT, addr="10.0.0.1", **{"X-Forwarded-For": "192.0.2.99"})
    assert response.status_code == 429  # a client cannot pick its own address


@pytest.mark.parametrize("proxies", [1])
def test_behind_the_proxy_each_client_has_its_own_throttle(make_app, admin, proxies):
    behind = make_app(TRUSTED_PROXIES=proxies)
    attacker, admin_browser = behind.test_client(), behind.test_client()
    with behind.app_context():
        proxy = {"addr": "10.0.0.1"}
        _fail(attacker, behind.config["LOGIN_MAX_FAILURES"], **proxy, **{"X-Forwarded-For": "203.0.113.66"})
        assert _login(attacker, RIGHT, **proxy, **{"X-Forwarded-For": "203.0.113.66"}).status_code == 429
        # every request comes from the proxy's address, yet the admin's own client logs in
        assert _login(admin_browser, RIGHT, **proxy, **{"X-Forwarded-For": "198.51.100.7"}).status_code == 302


@pytest.fixture
def hash_checks(monkeypatch):
    """Every password hash checked during the test, as the hash string it was checked against."""
    checked = []
    real = werkzeug.security.check_password_hash

    def counting(pwhash, password):
        checked.append(pwhash)
        return real(pwhash, password)
    monkeypatch.setattr(auth_models, "check_password_hash", counting)
    monkeypatch.setattr(auth_services, "check_password_hash", counting, raising=False)
    return checked


def _method(pwhash):
    return pwhash.split("$", 1)[0]


def test_unknown_and_inactive_accounts_cost_the_same_hash_as_a_known_one(app, client, db, hash_checks):
    from app.auth.services import create_user

    user = create_user("known@example.com", "password123")  # hashed as in production
    dormant = create_user("dormant@example.com", "password123")
    dormant.active = False
    db.session.commit()
    for email in ("known@example.com", "nobody@example.com", "dormant@example.com"):
        assert _login(client, WRONG, email=email, addr=f"192.0.2.{len(hash_checks) + 1}").status_code == 401
    assert len(hash_checks) == 3
    assert {_method(h) for h in hash_checks} == {_method(user.password_hash)}


def _guess_in_parallel(base_url, password, count):
    """``count`` clients each load the login page, then all post ``password`` at once; returns
    their status codes."""
    host, port = urlsplit(base_url).hostname, urlsplit(base_url).port
    barrier, statuses = threading.Barrier(count), []

    def guess():
        connection = http.client.HTTPConnection(host, port, timeout=60)
        connection.request("GET", "/login")
        response = connection.getresponse()
        token = CSRF_RE.search(response.read().decode()).group(1)
        cookie = response.getheader("Set-Cookie").split(";", 1)[0]
        body = urlencode({"csrf_token": token, "email": "admin@example.com", "password": password})
        barrier.wait()
        connection.request("POST", "/login", body, {"Cookie": cookie,
                                                    "Content-Type": "application/x-www-form-urlencoded"})
        statuses.append(connection.getresponse().status)
        connection.close()

    threads = [threading.Thread(target=guess) for _ in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return statuses


def test_parallel_wrong_guesses_get_no_more_evaluations_than_allowed(app, admin, live_server):
    allowed = app.config["LOGIN_MAX_FAILURES"]
    statuses = _guess_in_parallel(live_server, WRONG, allowed * 4)
    assert len(statuses) == allowed * 4
    assert statuses.count(401) == allowed  # evaluated (a password hash each), the rest refused
    assert statuses.count(429) == allowed * 3


def test_ipv6_clients_are_grouped_by_their_64(app, admin):
    attacker = app.test_client()
    for host in range(1, app.config["LOGIN_MAX_FAILURES"] + 1):  # a new address for every guess
        assert _login(attacker, WRONG, addr=f"2001:db8:1:2::{host:x}").status_code == 401
    assert _login(attacker, RIGHT, addr="2001:db8:1:2:ffff:ffff:ffff:ffff").status_code == 429
    assert _login(app.test_client(), RIGHT, addr="2001:db8:1:3::1").status_code == 302  # next /64


def test_client_groups():
    assert throttle.client_group("2001:db8:1:2:3:4:5:6") == "2001:db8:1:2::/64"
    assert throttle.client_group("::ffff:192.0.2.7") == "192.0.2.7"  # an IPv4 client on a v6 socket
    assert throttle.client_group("192.0.2.7") == "192.0.2.7"
    assert throttle.client_group(None) == "-" and throttle.client_group("unix") == "unix"


def test_an_attacker_rotating_addresses_meets_the_account_ceiling(app, admin, redis_client):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = ceiling = 6
    admin_browser = app.test_client()
    assert _login(admin_browser, RIGHT, addr="198.51.100.7").status_code == 302  # earlier login
    device = admin_browser.get_cookie(throttle.DEVICE_COOKIE)
    assert device is not None and device.http_only
    attacker = app.test_client()
    for n in range(ceiling):  # one guess from each of many networks: no pair or group limit hit
        assert _login(attacker, WRONG, addr=f"203.0.{n}.9").status_code == 401
    assert _login(attacker, WRONG, addr="203.0.99.9").status_code == 429
    # a new browser waits too, even with the right password ...
    response = _login(app.test_client(), RIGHT, addr="192.0.2.50")
    assert response.status_code == 429 and int(response.headers["Retry-After"]) <= 5
    # ... but the admin's own browser (its device cookie) is never held back by the account ...
    returning = app.test_client()
    returning.set_cookie(throttle.DEVICE_COOKIE, device.value)
    assert _login(returning, RIGHT, addr="192.0.2.51").status_code == 302
    # ... a forged or another account's cookie does not count ...
    forged = app.test_client()
    forged.set_cookie(throttle.DEVICE_COOKIE, throttle.device_token("other@example.com"))
    assert _login(forged, RIGHT, addr="192.0.2.52").status_code == 429
    # ... and it is a delay, never a lock: once it has passed, the right password gets in.
    redis_client.hset(throttle.keys("admin@example.com", "-")[2], "last", 0)
    assert _login(app.test_client(), RIGHT, addr="192.0.2.53").status_code == 302


def test_a_right_password_takes_its_count_back(app, admin, redis_client):
    _fail(app.test_client(), 2, addr="198.51.100.9")
    assert _login(app.test_client(), RIGHT, addr="198.51.100.9").status_code == 302
    pair, group, account = throttle.keys("admin@example.com", "198.51.100.9")
    assert not redis_client.exists(pair)
    assert int(redis_client.hget(group, "n")) == 2 and int(redis_client.hget(account, "n")) == 2
