"""After a database outage the web app answers at once: a pooled connection the outage cut is
found dead when it is taken from the pool (``pool_pre_ping``) and replaced, instead of failing the
request it was given to with a 503 (fresh-clone review, item 9: each stale pooled connection
failed one request, minutes after the outage)."""
from urllib.parse import urlsplit

import pytest

from app.testing import login
from tests.faults import TcpProxy

pytestmark = pytest.mark.committed  # the second app reads what the test wrote


def test_a_request_after_a_database_outage_answers_at_the_first_try(app, db, database_url, make_app, admin):
    if database_url.startswith("sqlite"):
        pytest.skip("an in-process file has no connection to cut: a TCP proxy in front of PostgreSQL")
    parts = urlsplit(database_url)
    proxy = TcpProxy(parts.hostname, parts.port or 5432).start()
    web = make_app(SQLALCHEMY_DATABASE_URI=proxy.url(database_url))
    client = login(web.test_client(), admin)
    assert client.get("/network/customers").status_code == 200  # the pool holds a connection now
    proxy.cut()
    proxy.restore()
    codes = [client.get("/network/customers").status_code for _ in range(3)]
    assert codes == [200, 200, 200], "no request fails on a connection the outage cut"
