"""Sessions end for good: logout, a password or role change and "log out other sessions" rotate
the user's session token, so captured session and remember-me cookies stop working."""
from flask import g

from app.testing import csrf_token

REMEMBER = "remember_token"


def _fresh():
    for cached in ("csrf_token", "_login_user"):  # tests share one app context, so one ``g``
        g.pop(cached, None)


def _log_in(app, email="admin@example.com", remember=True, password="password123"):
    client = app.test_client()
    _fresh()
    response = client.post("/login", data={"csrf_token": csrf_token(client), "email": email,
                                           "password": password, "remember": "y" if remember else ""})
    assert response.status_code == 302
    return client


def _cookies(client):
    return {name: client.get_cookie(name).value for name in ("session", REMEMBER) if client.get_cookie(name)}


def _replay(app, cookies, only=None):
    """A new browser carrying a copy of ``cookies`` (only the one named ``only`` if given)."""
    thief = app.test_client()
    for name, value in cookies.items():
        if only is None or name == only:
            thief.set_cookie(name, value)
    _fresh()
    return thief.get("/network/").status_code


def test_captured_cookies_work_before_and_not_after_logout(app, admin):
    client = _log_in(app)
    stolen = _cookies(client)
    assert set(stolen) == {"session", REMEMBER}
    assert _replay(app, stolen, "session") == 200 and _replay(app, stolen, REMEMBER) == 200
    _fresh()
    assert client.post("/logout", data={"csrf_token": csrf_token(client, "/network/")}).status_code == 302
    assert _replay(app, stolen, "session") == 302 and _replay(app, stolen, REMEMBER) == 302


def test_a_password_change_ends_every_session(app, db, admin):
    stolen = _cookies(_log_in(app))
    admin.set_password("a new password")
    db.session.commit()
    assert _replay(app, stolen, "session") == 302 and _replay(app, stolen, REMEMBER) == 302


def test_a_role_change_ends_every_session_and_saving_the_same_role_does_not(app, db, admin):
    stolen = _cookies(_log_in(app))
    admin.is_super_admin = True
    db.session.commit()
    assert _replay(app, stolen) == 200
    admin.is_super_admin = False
    db.session.commit()
    admin.is_super_admin = True
    db.session.commit()
    assert _replay(app, stolen, "session") == 302 and _replay(app, stolen, REMEMBER) == 302


def test_log_out_other_sessions_keeps_this_one(app, admin):
    other = _cookies(_log_in(app))
    mine = _log_in(app)
    _fresh()
    page = mine.get("/network/profile").get_data(as_text=True)
    assert "Log out other sessions" in page
    response = mine.post("/network/profile/end-other-sessions",
                         data={"csrf_token": csrf_token(mine, "/network/profile")})
    assert response.status_code == 302
    assert _replay(app, other, "session") == 302 and _replay(app, other, REMEMBER) == 302
    _fresh()
    assert mine.get("/network/").status_code == 200
    assert _replay(app, _cookies(mine), REMEMBER) == 200  # this browser's remember cookie was renewed


def test_remember_cookie_is_secure_httponly_and_samesite_in_production(make_app, admin):
    production = make_app(PRODUCTION=True)
    with production.app_context():
        client = production.test_client()
        _fresh()
        login_page = client.get("/login", base_url="https://localhost")
        token = login_page.get_data(as_text=True).split('name="csrf-token" content="')[1].split('"')[0]
        response = client.post("/login", base_url="https://localhost", data={
            "csrf_token": token, "email": "admin@example.com", "password": "password123", "remember": "y"},
            headers={"Referer": "https://localhost/login"})
        cookies = {c.split("=", 1)[0]: c for c in response.headers.getlist("Set-Cookie")}
    for name in (REMEMBER, "herald_device"):
        cookie = cookies[name].lower()
        assert "secure" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert "secure" in cookies["session"].lower()


def _change_password(client, current, new, confirm=None):
    _fresh()
    token = csrf_token(client, "/network/profile")
    return client.post("/network/profile/password", data={
        "csrf_token": token, "current_password": current, "new_password": new,
        "confirm": new if confirm is None else confirm})


def test_changing_the_password_on_the_profile_keeps_this_session_and_ends_the_others(app, admin):
    from app.testing import audit_entries, make_user

    other = _cookies(_log_in(app))
    mine = _log_in(app)
    assert _change_password(mine, "wrong one", "a new password").status_code == 400
    assert _change_password(mine, "password123", "short").status_code == 400
    assert _change_password(mine, "password123", "a new password", "a new passwort").status_code == 400
    assert _replay(app, other) == 200  # nothing changed yet
    assert _change_password(mine, "password123", "a new password").status_code == 302
    assert _replay(app, other, "session") == 302 and _replay(app, other, REMEMBER) == 302
    _fresh()
    assert mine.get("/network/").status_code == 200
    assert [e.action for e in audit_entries()][-1] == "user.password_changed"
    for _ in range(app.config["LOGIN_MAX_FAILURES"]):  # guessing here is throttled like the login
        assert _change_password(mine, "a guess", "whatever it is").status_code == 400
    assert _change_password(mine, "a new password", "another new one").status_code == 429
    fresh = app.test_client()
    _fresh()
    assert fresh.post("/login", data={"csrf_token": csrf_token(fresh), "email": "admin@example.com",
                                      "password": "a new password"}).status_code == 302


def test_flask_users_set_password_and_set_role_end_every_session(app, admin, runner):
    from app.auth.models import User
    from app.testing import audit_entries, make_user

    stolen = _cookies(_log_in(app))
    result = runner.invoke(args=["users", "set-password", "admin@example.com"],
                           input="short\nshort\n")
    assert result.exit_code != 0 and "at least 8" in result.output
    spaces = runner.invoke(args=["users", "set-password", "admin@example.com", "--password", " " * 8])
    assert spaces.exit_code != 0 and "only spaces" in spaces.output  # the login form reads it as none
    assert _replay(app, stolen) == 200
    result = runner.invoke(args=["users", "set-password", "admin@example.com"],
                           input="a new password\na new password\n")
    assert result.exit_code == 0, result.output
    assert "a new password" not in result.output  # the prompt hides the input
    assert _replay(app, stolen, "session") == 302 and _replay(app, stolen, REMEMBER) == 302
    stolen = _cookies(_log_in(app, password="a new password"))
    assert "already" in runner.invoke(args=["users", "set-role", "admin@example.com", "--super-admin"]).output
    assert _replay(app, stolen) == 200
    last = runner.invoke(args=["users", "set-role", "admin@example.com", "--no-super-admin"])
    assert last.exit_code == 1 and "last super admin" in last.output  # the network keeps one
    make_user("second@example.com", super_admin=True)
    result = runner.invoke(args=["users", "set-role", "admin@example.com", "--no-super-admin"])
    assert result.exit_code == 0 and "not a super admin" in result.output
    assert _replay(app, stolen, "session") == 302
    assert not User.find_by_email("admin@example.com").is_super_admin
    assert [e.action for e in audit_entries()][-2:] == ["user.password_changed", "user.role_changed"]
    assert runner.invoke(args=["users", "set-role", "nobody@example.com", "--super-admin"]).exit_code == 1

