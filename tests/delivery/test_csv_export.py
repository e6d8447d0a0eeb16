"""Every CSV export neutralises cells a spreadsheet would run as a formula (CSV injection)."""
import csv
import io

import pytest

from app.core.csv_export import FORMULA_START, csv_stream, safe_cell
from app.testing import served_get

from .conftest import add_customers, make_run


@pytest.mark.parametrize("start_char", FORMULA_START)
def test_each_dangerous_first_character_is_neutralised(start_char):
    assert safe_cell(start_char + "cmd") == "'" + start_char + "cmd"
    assert safe_cell("plain " + start_char) == "plain " + start_char and safe_cell(None) == ""


def test_the_stream_makes_every_cell_safe_the_header_too():
    text = "".join(csv_stream(["=id", "email"], [(1, "=HYPERLINK(\"http://x\")"), (2, "@SUM(A1)")]))
    rows = list(csv.reader(io.StringIO(text)))
    assert rows == [["'=id", "email"], ["1", "'=HYPERLINK(\"http://x\")"], ["2", "'@SUM(A1)"]]


def test_the_delivery_log_export_neutralises_addresses_and_replies(db, admin_client, smtp_sink, product, jobs):
    evil = ["=1+1@example.com", "-2@example.com", "+3@example.com"]
    add_customers([(address, "Formula") for address in evil], product)
    smtp_sink.cues = {"-2@example.com": ["550 5.1.1 No such user"]}
    run = make_run(products=[product])
    jobs.start(run)
    export = served_get(admin_client, f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}/export.csv")
    rows = list(csv.DictReader(io.StringIO(export.get_data(as_text=True))))
    assert sorted(row["email"] for row in rows) == sorted("'" + address for address in evil)
    for row in rows:
        assert not any(value.startswith(FORMULA_START) for value in row.values()), row
    page = f"/network/broadcasts/{run.broadcast_id}/runs/{run.id}"
    unknown = admin_client.get(page + "?status=delivered")  # none of the ledger's statuses
    assert unknown.status_code == 400 and "No status is called “delivered”" in unknown.get_data(as_text=True)
    assert admin_client.get(page + "/export.csv?status=delivered").status_code == 400
