"""The admin's suppression list: filters, removal with confirmation, CSV import and export."""
import csv
import io
from datetime import timedelta

import pytest
from sqlalchemy import func, select

from app.mail.suppression import Suppression
from app.tracking.services import suppress, suppression_for
from app.core.utils import utcnow
from app.testing import csrf_token, served_get

LIST = "/network/suppressions/"


def _seed(db):
    suppress("old@example.com", "bounced", "smtp", "550 5.1.1")
    db.session.get(Suppression, "old@example.com").created_at = utcnow() - timedelta(days=40)
    suppress("reader@example.com", "unsubscribed", "one-click")
    suppress("angry@example.org", "complained", "webhook")
    db.session.commit()


def _upload(client, content: bytes, **fields):
    data = {"csrf_token": csrf_token(client, LIST + "import"), "reason": "unsubscribed",
            "file": (io.BytesIO(content), "list.csv"), **fields}
    return client.post(LIST + "import", data=data, content_type="multipart/form-data")


def test_list_search_and_filters(admin_client, db):
    _seed(db)
    page = admin_client.get(LIST).get_data(as_text=True)
    assert "Suppression list" in page and page.index("angry@example.org") < page.index("old@example.com")
    assert 'aria-current="page">Suppression list' in page
    assert "reader@" not in admin_client.get(LIST + "?q=ang").get_data(as_text=True)
    only_bounced = admin_client.get(LIST + "?reason=bounced").get_data(as_text=True)
    assert "old@example.com" in only_bounced and "angry@" not in only_bounced
    assert "reader@" in admin_client.get(LIST + "?source=one-click").get_data(as_text=True)
    recent = admin_client.get(LIST + f"?since={(utcnow() - timedelta(days=7)).date()}").get_data(as_text=True)
    assert "old@example.com" not in recent and "reader@example.com" in recent
    assert "Use a date like" in admin_client.get(LIST + "?since=yesterday").get_data(as_text=True)


def test_a_filter_value_that_is_no_choice_is_said_not_quietly_dropped(admin_client, db):
    """A reason or source that is none of the list's (a hand-edited or old link) lists every
    reason or source with a 400 and says so; an export under such a filter is refused rather than
    exporting every address (until 2026-12-01 an unknown source listed nothing, an unknown reason
    everything, both with a 200, and the export followed them)."""
    _seed(db)
    page = admin_client.get(LIST + "?reason=spam&source=fax")
    text = page.get_data(as_text=True)
    assert page.status_code == 400 and "No reason is called “spam”; showing every reason." in text
    assert "No source is called “fax”" in text and "old@example.com" in text and "reader@" in text
    for query in ("?reason=spam", "?source=fax", "?since=yesterday"):
        export = admin_client.get(LIST + "export.csv" + query)
        assert export.status_code == 400 and "old@example.com" not in export.get_data(as_text=True), query
    assert admin_client.get(LIST + "export.csv?reason=bounced").status_code == 200


def test_keyset_pages(admin_client, db):
    for i in range(55):
        suppress(f"user{i:02d}@example.com", "unsubscribed", "admin")
    db.session.commit()
    first = admin_client.get(LIST).get_data(as_text=True)
    assert first.count("user") >= 50 and "Older" in first
    cursor = first.split("cursor=", 1)[1].split('"', 1)[0].replace("&amp;", "&")
    second = admin_client.get(LIST + "?cursor=" + cursor).get_data(as_text=True)
    assert "Older" not in second and second.count("@example.com</td>") == 5


def test_removal_asks_then_needs_post_with_csrf(admin_client, db):
    _seed(db)
    confirm = admin_client.get(LIST + "remove?email=reader@example.com")
    assert confirm.status_code == 200 and b"Remove reader@example.com" in confirm.data
    assert suppression_for("reader@example.com") is not None  # GET removes nothing
    admin_client.post(LIST + "remove", data={"email": "reader@example.com"})
    assert suppression_for("reader@example.com") is not None  # no CSRF token: refused
    token = csrf_token(admin_client, LIST)
    admin_client.post(LIST + "remove", data={"email": "reader@example.com", "csrf_token": token})
    assert suppression_for("reader@example.com") is None


def test_add_one_address(admin_client, db):
    token = csrf_token(admin_client, LIST)
    assert admin_client.post(LIST + "add", data={"csrf_token": token, "email": "bad"}).status_code == 400
    admin_client.post(LIST + "add", data={"csrf_token": token, "email": "New@Example.com", "reason": "bounced"})
    assert suppression_for("new@example.com").reason == "bounced"


def test_customers_cannot_see_the_list(customer_client, db):
    _seed(db)
    response = customer_client.get(LIST)
    assert response.status_code == 403
    assert "reader@example.com" not in response.get_data(as_text=True)
    assert customer_client.get(LIST + "export.csv").status_code == 403


def test_import_reports_errors_by_line_and_imports_nothing(admin_client, db):
    content = b"email,reason,detail\nok@example.com,bounced,old list\nnot-an-email,,\n\nx@example.com,maybe,\n"
    response = _upload(admin_client, content)
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Line 3: not-an-email is not a valid e-mail address" in page
    assert "Line 5: reason must be one of" in page
    assert "nothing was imported" in page
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_import_skip_invalid_and_existing_entries(admin_client, db):
    suppress("ok@example.com", "complained", "webhook")
    db.session.commit()
    content = b"ok@example.com,unsubscribed\nnew@example.com\nNEW@example.com,bounced\nbroken\n"
    response = _upload(admin_client, content, skip_invalid="y")
    assert response.status_code == 200 and "Line 4" in response.get_data(as_text=True)
    assert suppression_for("ok@example.com").reason == "complained"  # kept as it was
    new = suppression_for("new@example.com")
    assert (new.reason, new.source) == ("unsubscribed", "import")


def test_import_never_500s_on_bad_files(admin_client, db):
    assert "not UTF-8" in _upload(admin_client, b"\xff\xfe\x00bad").get_data(as_text=True)
    assert "the file is empty" in _upload(admin_client, b"").get_data(as_text=True)
    assert "no rows" in _upload(admin_client, b"email,reason\n").get_data(as_text=True)
    response = _upload(admin_client, b'"unterminated,quote\n' + b"a" * 200)
    assert response.status_code == 400
    response = admin_client.post(LIST + "import", data={"csrf_token": csrf_token(admin_client, LIST + "import")})
    assert response.status_code == 400 and b"Choose a CSV file" in response.data


@pytest.mark.parametrize("content, reason", [
    (b"", "the file is empty"), (b" \n\n", "the file is empty"),
    (b"email,reason\n", "the file has no rows, only a header"),
    (b"ok@example.com\n\xff\xfe\x00bad\n", "the file is not UTF-8 text (byte 16 is not UTF-8)"),
])
def test_a_file_that_cannot_be_read_says_why_not_one_invalid_row(admin_client, db, runner, tmp_path,
                                                                   content, reason):
    """An empty file, a header alone or bytes that are not UTF-8 were reported as "1 invalid row:
    nothing was imported", on the page and by the CLI ("nothing imported: 1 invalid rows")."""
    response = _upload(admin_client, content)
    page = response.get_data(as_text=True)
    assert response.status_code == 400
    assert f"Nothing was imported: {reason}" in page and "invalid row" not in page
    path = tmp_path / "list.csv"
    path.write_bytes(content)
    refused = runner.invoke(args=["suppressions", "import", str(path)])
    assert refused.exit_code == 1 and f"nothing imported: {reason}" in refused.output
    assert "invalid row" not in refused.output
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_an_imported_detail_with_control_characters_is_kept_visible(admin_client, db):
    """A NUL in a detail cell (PostgreSQL refuses it: a 500 until now) is stored written visibly."""
    response = _upload(admin_client, b"email,reason,detail\nnul@example.com,bounced,bad\x00cell \x1b[2J\n")
    assert response.status_code == 302, response.get_data(as_text=True)[:300]  # imported
    assert suppression_for("nul@example.com").detail == "bad\\x00cell \\x1b[2J"


def test_export_round_trips_and_defuses_formulas(admin_client, db):
    suppress("reader@example.com", "unsubscribed", "one-click")
    suppress("evil@example.com", "bounced", "dsn", "=HYPERLINK(\"http://x\")")
    db.session.commit()
    response = admin_client.get(LIST + "export.csv")
    assert response.mimetype == "text/csv" and "attachment" in response.headers["Content-Disposition"]
    text = response.get_data(as_text=True)
    assert text.splitlines()[0] == "email,reason,source,detail,created_at"
    assert "'=HYPERLINK" in text
    assert "reader@" not in admin_client.get(LIST + "export.csv?reason=bounced").get_data(as_text=True)
    db.session.execute(Suppression.__table__.delete())
    db.session.commit()
    _upload(admin_client, text.encode())
    assert suppression_for("evil@example.com").detail == "=HYPERLINK(\"http://x\")"
    assert suppression_for("reader@example.com").reason == "unsubscribed"


def test_the_export_streams_every_row_when_served_as_in_production(admin_client, db):
    # 1,500 rows: more than one chunk of the stream (BATCH 1,000). Before csv_response called the
    # export in the stream, the view's query was read after its session was closed: 0 bytes on
    # PostgreSQL (cursor gone), a 500 on SQLite (closed identity map).
    suppress("angry@example.org", "complained", "webhook")
    for number in range(1500):
        suppress(f"b{number:04d}@example.com", "bounced", "smtp", "550 5.1.1")
    db.session.commit()
    for query, expected in (("", 1501), ("?reason=complained", 1), ("?q=b00&source=smtp", 100)):
        response = served_get(admin_client, LIST + "export.csv" + query)
        rows = list(csv.DictReader(io.StringIO(response.get_data(as_text=True))))
        assert response.status_code == 200 and len(rows) == expected, query
    assert rows[0]["email"] == "b0099@example.com" and rows[0]["detail"] == "550 5.1.1"
    assert {row["email"] for row in rows} == {f"b{number:04d}@example.com" for number in range(100)}


def test_import_fields_past_their_limits_are_errors_by_line_not_500s(admin_client, db):
    rows = [b"email,reason,detail", b"nul@example.com,bounced,a\x00b", b"x" * 10_000 + b"@example.com,bounced,",
            "²@example.com,unsubscribed,".encode(), b"ok@example.com,\xc3\xbcnknown,", b"big@example.com,bounced," + b"d" * 200_000]
    response = _upload(admin_client, b"\n".join(rows))
    assert response.status_code == 400
    page = response.get_data(as_text=True)
    assert "Internal" not in page and "line" in page
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0


def test_an_upload_past_the_line_limit_is_refused_before_any_work_and_the_cli_takes_any_length(
        admin_client, db, runner, tmp_path):
    from app.tracking.suppression_csv import MAX_UPLOAD_LINES
    rows = "".join(f"user{i}@example{i % 50}.com\n" for i in range(MAX_UPLOAD_LINES + 1)).encode()
    answer = _upload(admin_client, b"email\n" + rows)
    assert answer.status_code == 400
    page = answer.get_data(as_text=True)
    assert f"Nothing was imported: the file has {MAX_UPLOAD_LINES + 2:,} lines; an upload takes at most " \
           f"{MAX_UPLOAD_LINES:,}" in page and "invalid row" not in page
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == 0
    assert _upload(admin_client, rows[:rows.index(b"user9999@")]).status_code == 302  # 9,999 lines: at the limit
    path = tmp_path / "big.csv"
    path.write_bytes(b"email,reason\n" + rows + b"not an address,bounced\n")
    refused = runner.invoke(args=["suppressions", "import", str(path)])
    assert refused.exit_code == 1 and f"line {MAX_UPLOAD_LINES + 3}: not an address" in refused.output
    assert "nothing imported: 1 invalid rows" in refused.output
    done = runner.invoke(args=["suppressions", "import", str(path), "--skip-invalid", "--reason", "bounced"])
    assert done.exit_code == 0, done.output
    assert "10,002 rows read: 2 added, 9,999 already on the list, 1 invalid rows skipped." in done.output
    db.session.expire_all()
    assert db.session.scalar(select(func.count()).select_from(Suppression)) == MAX_UPLOAD_LINES + 1
