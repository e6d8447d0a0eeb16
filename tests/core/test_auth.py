"""Login, logout, throttling, CSRF and the role rules."""
from urllib.parse import quote

import pytest

from app.auth.models import User
from app.testing import csrf_token, make_user


def _login(client, email, password):
    return client.post("/login", data={"csrf_token": csrf_token(client), "email": email,
                                       "password": password})


def test_login_is_case_insensitive_and_lands_on_the_right_home(client, admin):
    response = _login(client, "ADMIN@Example.com", "password123")
    assert response.status_code == 302 and response.location.endswith("/network/")


def test_customer_lands_on_dashboard(client, customer):
    response = _login(client, "carol@example.com", "password123")
    assert response.location.endswith("/dashboard/")
    page = client.get("/dashboard/").get_data(as_text=True)
    assert "Carol&#39;s blog" in page and "Starter" in page


def test_wrong_password_is_generic_and_throttled(app, client, admin):
    wrong = _login(client, "admin@example.com", "nope")
    unknown = _login(client, "nobody@example.com", "nope")
    assert wrong.status_code == unknown.status_code == 401
    assert "Wrong e-mail address or password." in wrong.get_data(as_text=True)
    assert "Wrong e-mail address or password." in unknown.get_data(as_text=True)
    for _ in range(app.config["LOGIN_MAX_FAILURES"] - 1):
        _login(client, "admin@example.com", "nope")
    throttled = _login(client, "admin@example.com", "password123")  # even the right one waits
    assert throttled.status_code == 429
    assert "Too many failed attempts" in throttled.get_data(as_text=True)


def test_login_requires_csrf(client, admin):
    response = client.post("/login", data={"email": "admin@example.com", "password": "password123"})
    assert response.status_code == 400 and "CSRF check failed" in response.get_data(as_text=True)
    with client.session_transaction() as session:
        assert "_user_id" not in session  # the right password did not log anyone in
    assert client.get("/network/").status_code == 302


def test_open_redirect_after_login_is_refused(client, admin):
    response = client.post("/login?next=//evil.example", data={
        "csrf_token": csrf_token(client), "email": "admin@example.com",
        "password": "password123", "next": "//evil.example/x"})
    assert response.location.endswith("/network/")


@pytest.mark.parametrize("url", ["/network/", "/network/customers", "/network/plugins/",
                                 "/network/settings/", "/network/caught-mail/"])
def test_customers_get_403_and_anonymous_visitors_go_to_login(app, customer_client, url):
    response = customer_client.get(url)
    assert response.status_code == 403
    page = response.get_data(as_text=True)
    assert "You do not have permission to see this page." in page and "Caught mail" not in page
    anonymous = app.test_client().get(url)
    assert anonymous.status_code == 302 and anonymous.location.endswith(f"/login?next={quote(url)}")


@pytest.mark.parametrize("url", ["/network/", "/network/sites", "/dashboard/"])
def test_anonymous_is_sent_to_login(app, url):
    response = app.test_client().get(url)
    assert response.status_code == 302 and "/login?next=" in response.location


def test_customer_cannot_post_admin_actions(customer_client, app):
    token = csrf_token(customer_client, "/dashboard/")
    response = customer_client.post("/network/plugins/domain_mapping/activate", data={"csrf_token": token})
    assert response.status_code == 403
    assert not app.extensions["herald_plugins"].is_active("domain_mapping")


def test_logout_is_a_post(admin_client):
    assert admin_client.get("/logout").status_code == 405
    token = csrf_token(admin_client, "/network/")
    response = admin_client.post("/logout", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/login")
    after = admin_client.get("/network/")
    assert after.status_code == 302 and "/login?next=" in after.location
    with admin_client.session_transaction() as session:
        assert "_user_id" not in session


def test_inactive_user_cannot_log_in(app, client, db):
    user = make_user("gone@example.com")
    user.active = False
    db.session.commit()
    response = _login(client, "gone@example.com", "password123")
    assert response.status_code == 401
    assert "Wrong e-mail address or password." in response.get_data(as_text=True)  # no hint it exists
    assert client.get("/dashboard/").status_code == 302


def test_users_are_unique_case_insensitively(app, db):
    from app.auth.services import create_user

    create_user("dup@example.com", "password123")
    db.session.commit()
    with pytest.raises(ValueError, match="already exists"):
        create_user("DUP@example.com", "password123")


def test_accounts_on_local_domains_can_log_in(client, app, db):
    """`make run` created its admin as admin@herald.localhost before addresses were checked (now
    admin@herald.test): such an account still logs in, though no new one is made on .localhost."""
    user = User(email="admin@herald.localhost", name="Old admin", is_super_admin=True)
    user.set_password("password123")
    db.session.add(user)
    db.session.commit()
    response = _login(client, "admin@herald.localhost", "password123")
    assert response.status_code == 302 and response.location.endswith("/network/")
    assert client.get("/network/").status_code == 200
    from app.auth.services import create_user

    with pytest.raises(ValueError, match="special-use or reserved name"):
        create_user("another@herald.localhost", "password123")
    assert create_user("Ada@Herald.TEST", "password123").email == "Ada@herald.test"  # outside production
