"""Web fixtures: the admin and the customer with their logged-in clients, a live server, Chromium."""
import contextvars
import os
import re
import threading

import pytest

from . import login

MAIL_FRAME_RE = re.compile(r'<iframe[^>]*\bsandbox=""[^>]*\bsrc="(/network/mail-frame/[0-9a-f]+)"')
CHROMIUM = os.environ.get("HERALD_TEST_CHROMIUM", "/usr/bin/chromium")
CHROMIUM_ARGS = ["--no-sandbox", "--headless", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]


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


def mail_frames(client, page: str) -> str:
    """The documents of the sandboxed e-mail preview frames on ``page``, fetched with ``client``."""
    urls = MAIL_FRAME_RE.findall(page)
    assert urls, "no sandboxed mail preview frame on the page"
    return "".join(client.get(url).get_data(as_text=True) for url in urls)


def served_get(client, url: str):
    """``client.get(url)`` as a server runs it, the body read whole; returns the response.

    The request runs outside the test's app context (in a fresh ``contextvars`` context), so it
    pushes its own, whose teardown closes the request's database session when the view returns,
    before a streamed body is read. Requests made in the test's context share its session and
    would not show a stream that reads what the view's closed session loaded.
    """
    def fetch():
        response = client.get(url)
        response.get_data()
        return response

    return contextvars.Context().run(fetch)
