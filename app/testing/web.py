"""Web fixtures and helpers: CSRF tokens, logins, the admin and customer, a live server, Chromium."""
import os
import re
import threading

import pytest

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
CHROMIUM = os.environ.get("HERALD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


def csrf_token(client, url="/login") -> str:
    """A valid CSRF token for ``client``'s session, read from the page at ``url``."""
    page = client.get(url).get_data(as_text=True)
    match = CSRF_RE.search(page)
    assert match, f"no CSRF token on {url}"
    return match.group(1)


def login(client, user):
    """Log ``user`` (a User or its id) in on ``client`` through the session; returns ``client``.

    The user Flask-Login cached for the test's app context is forgotten, so a test may switch
    users on one client (the test's requests share its app context).
    """
    from flask import g, has_app_context

    if has_app_context():
        g.pop("_login_user", None)
    user_id = user if isinstance(user, int) else user.id
    with client.session_transaction() as session:
        session["_user_id"] = str(user_id)
        session["_fresh"] = True
    return client


@pytest.fixture
def admin(app):
    """Function: a committed super admin, admin@example.com, password ``PASSWORD``."""
    from .factories import make_user

    return make_user("admin@example.com", super_admin=True, name="Ada Admin")


@pytest.fixture
def customer(app):
    """Function: Carol (carol@example.com, with a login): a site and an active membership of 'starter'."""
    from .factories import make_customer, make_product, make_site

    person = make_customer("carol@example.com", "Carol Customer", make_product("starter", "Starter"),
                           login=True)
    make_site(person, "Carol's blog", path="carol")
    return person


@pytest.fixture
def admin_client(client, admin):
    """Function: the test client, logged in as ``admin``."""
    return login(client, admin)


@pytest.fixture
def customer_client(client, customer):
    """Function: the test client, logged in as ``customer``."""
    return login(client, customer.user)


@pytest.fixture
def live_server(app, committed):
    """Function: the app served by werkzeug on a free port in a thread; yields its base URL."""
    from werkzeug.serving import make_server

    server = make_server("127.0.0.1", 0, app, threaded=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_port}"
    server.shutdown()
    thread.join(timeout=5)


@pytest.fixture
def browser():
    """Function: a headless Chromium (Debian's package, HERALD_TEST_CHROMIUM) driven by Playwright."""
    if not os.path.exists(CHROMIUM):
        pytest.fail(f"{CHROMIUM} is missing: apt-get install -y chromium chromium-driver "
                    "(make test installs it when run as root), or set HERALD_TEST_CHROMIUM")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as playwright:
        instance = playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        yield instance
        instance.close()
