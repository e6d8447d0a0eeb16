"""Redirect targets taken from a request (login's ``next``, a form's Referer) stay on this host."""
import pytest

from app.testing import csrf_token

EVIL = ["//evil.example/x", "/\t/evil.example", "/\n/evil.example", "/\r\n/evil.example",
        "\t//evil.example", "/\\evil.example", "\\\\evil.example", "https://evil.example/",
        "javascript:alert(1)", " //evil.example", "/\x00/evil.example", "http:/evil.example",
        "/x\r\nSet-Cookie: a=b"]


def _login(client, next_value):
    return client.post("/login", data={"csrf_token": csrf_token(client), "email": "admin@example.com",
                                       "password": "password123", "next": next_value})


@pytest.mark.parametrize("target", EVIL)
def test_login_never_redirects_off_this_host(client, admin, target):
    response = _login(client, target)
    if "\x00" in target:  # a NUL is refused in any form value (core.inputs) before the login runs
        assert response.status_code == 400 and "not allowed" in response.get_data(as_text=True)
        return
    assert response.status_code == 302
    location = response.headers["Location"]
    assert location.startswith("/") and not location.startswith("//") and "\n" not in location
    assert "Set-Cookie: a=b" not in response.headers.get("Set-Cookie", "")


def test_a_tab_is_not_a_way_to_another_host(client, admin):
    assert _login(client, "/\t/evil.example").headers["Location"] == "/network/"


def test_a_newline_in_next_is_no_server_error(client, admin):
    assert _login(client, "/\n/evil.example").status_code == 302


def test_local_targets_still_work_with_their_query(client, admin):
    assert _login(client, "/network/sites?q=a%20b").headers["Location"] == "/network/sites?q=a%20b"


def test_publish_goes_back_only_to_a_page_of_this_host(admin_client, customer, db):
    from app.network.models import Site

    site = db.session.scalars(db.select(Site)).first()
    token = csrf_token(admin_client, "/network/sites")
    url = f"/network/sites/{site.id}/publish"
    back = admin_client.post(url, data={"csrf_token": token},
                             headers={"Referer": "http://localhost/network/sites?q=carol"})
    assert back.headers["Location"] == "/network/sites?q=carol"
    for referer in ("http://localhost.evil.example/x", "http://localhost\t/\t/evil.example",
                    "http://evil.example/network/sites"):
        response = admin_client.post(url, data={"csrf_token": token}, headers={"Referer": referer})
        assert response.headers["Location"] == "/network/sites", referer


@pytest.mark.parametrize("target, normalised", [
    ("/\x7f/\x01a\tb", "//ab"), ("/\t/evil.example", "//evil.example"),
    ("\r\n /x\\y \x00", "/x/y"), ("/network/sites?q=a%20b", "/network/sites?q=a%20b")])
def test_normalise_target_drops_controls_like_a_browser(target, normalised):
    from app.core.redirects import normalise_target

    assert normalise_target(target) == normalised
