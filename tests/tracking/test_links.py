"""Open pixel and click redirects: signed tokens, no open redirect, anonymous by default."""
import re

from sqlalchemy import func, select

from app.tracking.links import apply_tracking
from app.tracking.models import TrackedClick, TrackedOpen
from app.mail.tokens import make_token, unsubscribe_url

HTML = ('<html><body><p>Hi <a href="https://example.com/a?x=1&amp;y=2">A</a> '
        '<a class="btn" href="https://example.com/b">B</a> <a href="mailto:help@example.com">mail</a> '
        '<a href="#top">top</a> <a href="{unsub}">Unsubscribe</a></p></body></html>')


def _links(html):
    return re.findall(r'href="([^"]+)"', html)


def _path(url):
    return url.replace("http://herald.test", "")


def test_clicks_and_pixel_are_added(app, run):
    html = apply_tracking(HTML.format(unsub=unsubscribe_url("a@example.com", run.id)), 11, run.id,
                          opens=True, clicks=True)
    links = _links(html)
    assert links[0].startswith("http://herald.test/t/c/") and links[1].startswith("http://herald.test/t/c/")
    assert links[2] == "mailto:help@example.com" and links[3] == "#top"
    assert links[4].startswith("http://herald.test/u/")  # unsubscribe is never redirected
    pixel = re.search(r'<img src="(http://herald.test/t/o/[^"]+\.gif)"[^>]*></body>', html)
    assert pixel, html
    assert 'class="btn"' in html


def test_nothing_changes_without_tracking(app, run):
    html = HTML.format(unsub="https://x.test/u/1")
    assert apply_tracking(html, 11, run.id, opens=False, clicks=False) == html


def test_explicit_data_track_link_tracked_when_clicks_off(app, run):
    html = '<p><a href="https://example.com/plain">p</a> <a data-track href="https://example.com/offer">o</a></p>'
    out = apply_tracking(html, 5, run.id, opens=False, clicks=False)
    plain, offer = _links(out)
    assert plain == "https://example.com/plain"
    assert offer.startswith("http://herald.test/t/c/")
    assert "data-track" not in out


def test_click_redirects_only_to_the_signed_url_and_counts(app, client, db, run):
    out = apply_tracking('<a href="https://example.com/a?x=1&amp;y=2">A</a>', 7, run.id, False, True)
    assert client.head(_path(_links(out)[0])).status_code == 302  # a link checker: not counted
    response = client.get(_path(_links(out)[0]))
    assert response.status_code == 302
    assert response.headers["Location"] == "https://example.com/a?x=1&y=2"
    assert db.session.scalar(select(func.count()).select_from(TrackedClick)) == 1


def test_tampered_or_foreign_tokens_are_404(app, client, run, db):
    out = apply_tracking('<a href="https://example.com/a">A</a>', 7, run.id, True, True)
    click_url = _path(_links(out)[0])
    pixel_url = _path(re.search(r'src="([^"]+)"', out).group(1))
    token = click_url.rsplit("/", 1)[1]
    tampered = token[:-2] + ("AA" if not token.endswith("AA") else "BB")
    assert client.get(f"/t/c/{tampered}").status_code == 404
    assert client.get(pixel_url.replace("/t/o/", "/t/o/x")).status_code == 404
    # A token signed for another purpose (an unsubscribe token) is no click token.
    assert client.get(f"/t/c/{make_token('unsubscribe', [run.id, 'https://evil.test'])}").status_code == 404
    # Even a correctly signed token never redirects outside http(s).
    assert client.get(f"/t/c/{make_token('click', [run.id, 'javascript:alert(1)'])}").status_code == 404
    assert db.session.scalar(select(func.count()).select_from(TrackedClick)) == 0
    assert db.session.scalar(select(func.count()).select_from(TrackedOpen)) == 0


def test_anonymous_by_default_no_recipient_in_tokens_or_rows(app, client, db, run):
    first = apply_tracking('<a href="https://example.com/a">A</a>', 1, run.id, True, True)
    second = apply_tracking('<a href="https://example.com/a">A</a>', 2, run.id, True, True)
    assert first == second  # nothing distinguishes recipients
    response = client.get(_path(re.search(r'src="([^"]+)"', first).group(1)))
    assert response.status_code == 200 and response.mimetype == "image/gif"
    assert "no-store" in response.headers["Cache-Control"]
    client.get(_path(_links(first)[0]))
    assert db.session.scalars(select(TrackedOpen.delivery_id)).all() == [None]
    assert db.session.scalars(select(TrackedClick.delivery_id)).all() == [None]


def test_per_recipient_tracking_records_the_delivery(app, client, db, run, per_recipient):
    out = apply_tracking('<a href="https://example.com/a">A</a>', 42, run.id, True, True)
    client.get(_path(re.search(r'src="([^"]+)"', out).group(1)))
    client.get(_path(_links(out)[0]))
    assert db.session.scalars(select(TrackedOpen.delivery_id)).all() == [42]
    assert db.session.scalars(select(TrackedClick.delivery_id)).all() == [42]


def test_switching_to_anonymous_stops_recording_identity(app, client, db, run, per_recipient, setting):
    out = apply_tracking("<p>x</p>", 42, run.id, True, False)
    setting("tracking.per_recipient", False)
    client.get(_path(re.search(r'src="([^"]+)"', out).group(1)))
    assert db.session.scalars(select(TrackedOpen.delivery_id)).all() == [None]


def test_recipient_part_is_checked(app, client, db, run, per_recipient):
    out = apply_tracking('<a href="https://example.com/a">A</a>', 42, run.id, False, True)
    link, recipient = _path(_links(out)[0]).split("/")[3:5]
    assert client.get(f"/t/c/{link}/{recipient[:-2]}xx").status_code == 404
    other_run = make_token("open", [run.id + 1, 42])  # a recipient of another run
    assert client.get(f"/t/c/{link}/{other_run}").status_code == 404
    assert client.get(f"/t/c/{link}/{recipient}").status_code == 302
    assert db.session.scalars(select(TrackedClick.delivery_id)).all() == [42]


def test_one_signature_per_message_links_signed_once_per_run(app, run, per_recipient):
    body = "".join(f'<a href="https://example.com/{i}">{i}</a>' for i in range(5))
    first = _links(apply_tracking(body, 1, run.id, False, True))
    second = _links(apply_tracking(body, 2, run.id, False, True))
    assert [u.split("/")[5] for u in first] == [u.split("/")[5] for u in second]  # same link tokens
    assert len({u.split("/")[6] for u in first}) == 1  # one recipient token per message
    assert first[0].split("/")[6] != second[0].split("/")[6]
