"""The login device cookie: a browser that logged in is its own client for the throttle (nobody
sharing its address and no attacker of the account slows it), the cookie is random per browser,
never names the address, expires, and dies with the session token; operators can clear a throttle."""
import base64
import json
import time

import pytest
from flask import g

from app.auth import devices, throttle
from app.testing import audit_entries, csrf_token

RIGHT, WRONG, SHARED = "password123", "nope", "10.0.0.1"


def _login(client, password, email="admin@example.com", addr=SHARED):
    for cached in ("csrf_token", "_login_user"):  # tests share one app context, so one ``g``
        g.pop(cached, None)
    return client.post("/login", data={"csrf_token": csrf_token(client), "email": email,
                                       "password": password}, environ_base={"REMOTE_ADDR": addr})


def _browser_that_logged_in(app, addr=SHARED):
    browser = app.test_client()
    assert _login(browser, RIGHT, addr=addr).status_code == 302
    return browser


def _spray(app, times, addr=SHARED):
    """Wrong passwords for ``times`` different accounts from ``addr`` (one shared address, as
    every client has behind a proxy when HERALD_TRUSTED_PROXIES is 0)."""
    stranger = app.test_client()
    for i in range(times):
        assert _login(stranger, WRONG, email=f"user{i}@example.com", addr=addr).status_code in (401, 429)


def test_a_sprayer_on_the_admins_address_does_not_slow_the_admins_browser(app, admin):
    admin_browser = _browser_that_logged_in(app)
    _spray(app, 20)
    assert _login(app.test_client(), RIGHT).status_code == 429  # a browser without the cookie waits
    assert _login(admin_browser, RIGHT).status_code == 302  # the admin's own browser does not


def test_a_device_is_slowed_only_by_its_own_failures(app, admin, redis_client):
    mine, other = _browser_that_logged_in(app), _browser_that_logged_in(app)
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):
        assert _login(mine, WRONG).status_code == 401
    assert _login(mine, RIGHT).status_code == 429
    account = throttle.keys("admin@example.com", SHARED)[2]
    assert int(redis_client.hget(account, "n")) == app.config["LOGIN_MAX_FAILURES"]  # still counted
    assert _login(other, RIGHT).status_code == 302  # same address, same account, its own count


def _payload(cookie_value):
    body = cookie_value.split(".", 1)[0]
    return json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))


def test_the_cookie_is_random_per_browser_and_never_names_the_address(app, admin):
    first = _browser_that_logged_in(app).get_cookie(devices.DEVICE_COOKIE)
    second = _browser_that_logged_in(app).get_cookie(devices.DEVICE_COOKIE)
    assert first.value != second.value and first.http_only
    ids = {_payload(first.value)[0], _payload(second.value)[0]}
    assert len(ids) == 2 and _payload(first.value)[1] == admin.id
    for value in (first.value, second.value):
        assert "admin" not in value and "admin" not in json.dumps(_payload(value))


def test_the_cookie_expires_after_a_year(app, admin, monkeypatch):
    with monkeypatch.context() as past:
        past.setattr(time, "time", lambda: 1_000_000_000.0)  # itsdangerous stamps time.time()
        old = devices.device_token(admin)
    assert devices.device_id(old, admin) is None
    assert devices.device_id(devices.device_token(admin), admin) is not None


def _old_cookie_still_trusted(app, browser):
    """Whether a copy of ``browser``'s device cookie (taken now) gets in after a spray."""
    copy = app.test_client()
    copy.set_cookie(devices.DEVICE_COOKIE, browser.get_cookie(devices.DEVICE_COOKIE).value)
    return copy


@pytest.mark.parametrize("rotation", ["password", "role", "other sessions", "logout"])
def test_rotating_the_session_token_invalidates_every_device_cookie(app, db, admin, rotation):
    browser = _browser_that_logged_in(app)
    copy = _old_cookie_still_trusted(app, browser)
    if rotation == "password":
        admin.set_password("another password")
    elif rotation == "role":
        admin.is_super_admin = False
    db.session.commit()
    if rotation in ("other sessions", "logout"):
        url = "/network/profile/end-other-sessions" if rotation == "other sessions" else "/logout"
        g.pop("csrf_token", None)
        assert browser.post(url, data={"csrf_token": csrf_token(browser, "/network/profile")}).status_code == 302
    _spray(app, 20)
    password = "another password" if rotation == "password" else RIGHT
    assert _login(copy, password).status_code == 429
    if rotation in ("other sessions", "logout"):  # this browser's cookie was renewed, it stays known
        assert _login(browser, RIGHT).status_code == 302


def test_flask_auth_unthrottle_clears_the_account_and_is_audited(app, admin, runner, redis_client):
    app.config["LOGIN_ACCOUNT_MAX_FAILURES"] = 3
    for n in range(3):
        assert _login(app.test_client(), WRONG, addr=f"203.0.{n}.9").status_code == 401
    assert _login(app.test_client(), RIGHT, addr="192.0.2.50").status_code == 429
    result = runner.invoke(args=["auth", "unthrottle", "Admin@Example.com"])
    assert result.exit_code == 0 and "cleared (4 counter(s))" in result.output
    assert not redis_client.keys("*login-fail:account:*") and not redis_client.keys("*login-fail:pair:*")
    assert _login(app.test_client(), RIGHT, addr="192.0.2.50").status_code == 302
    assert [e.action for e in audit_entries()][-1] == "login_throttle.cleared"
