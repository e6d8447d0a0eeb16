"""An id no PostgreSQL ``integer`` column holds (past 2,147,483,647) is answered like an id no row
has: a usage error on the command line, a form error, a 400 or a 404, never a database error.
On SQLite (64-bit integers) the same ids simply find nothing; the answers are the same."""
import pytest

from app.core.inputs import MAX_ID
from app.core.utils import get_row
from app.network.models import Customer
from app.testing import csrf_token, make_customer

HUGE = "99999999999"


@pytest.mark.parametrize("command", [
    ["delivery", "status", HUGE], ["delivery", "pause", HUGE], ["delivery", "resume", HUGE],
    ["delivery", "cancel", "--yes", HUGE], ["delivery", "resend-unknown", "--yes", HUGE],
    ["delivery", "watch", HUGE], ["delivery", "supervise", HUGE], ["delivery", "supervise", "0"],
    ["broadcasts", "send", HUGE], ["schedules", "pause", HUGE], ["schedules", "resume", HUGE],
    ["schedules", "end", HUGE], ["api-keys", "revoke", str(MAX_ID + 1)],
    ["payments", "record", "--customer", "1", "--amount", "1", "--membership", HUGE]])
def test_every_command_refuses_an_id_out_of_range_with_a_usage_error(runner, command):
    result = runner.invoke(args=command)
    assert result.exit_code == 2, (command, result.output, result.exception)
    assert "is not an id: ids are whole numbers from 1 to 2,147,483,647" in result.output, command


def test_an_id_in_range_without_a_row_still_says_there_is_none(runner):
    result = runner.invoke(args=["delivery", "status", str(MAX_ID)])
    assert result.exit_code == 1 and f"There is no broadcast run {MAX_ID}." in result.output


def test_get_row_finds_nothing_for_what_is_no_id(app):
    customer = make_customer("row@example.com")
    assert get_row(Customer, customer.id) is customer and get_row(Customer, str(customer.id)) is customer
    for value in (MAX_ID + 1, str(MAX_ID + 1), "9" * 30, 0, -1, True, "1e3", "²", None, [1]):
        assert get_row(Customer, value) is None, value


@pytest.mark.parametrize("query", ["after=2147483648", "before=2147483648", f"after={HUGE}"])
def test_the_audit_pages_cursor_out_of_range_is_a_400(admin_client, query):
    response = admin_client.get(f"/network/audit/?{query}")
    assert response.status_code == 400 and "between 0 and 2,147,483,647" in response.get_data(as_text=True)


def test_a_url_id_out_of_range_is_a_404(admin_client):
    for path in (f"/network/broadcasts/{HUGE}", f"/network/broadcasts/{MAX_ID + 1}",
                 f"/network/customers/{MAX_ID + 1}"):
        assert admin_client.get(path).status_code == 404, path


def test_a_payment_for_a_membership_out_of_range_is_a_field_error(admin_client):
    customer = make_customer("payer@example.com")
    page = "/network/payments/"
    form = admin_client.post(page, data={"csrf_token": csrf_token(admin_client, page), "customer": customer.id,
                                         "amount": "5", "currency": "EUR", "status": "paid",
                                         "kind": "payment", "membership_id": HUGE})
    assert form.status_code == 400 and "There is no such number" in form.get_data(as_text=True)
    answer = admin_client.post("/network/payments.json", json={"customer": customer.id, "amount": "5",
                                                               "membership_id": int(HUGE)},
                               headers={"X-CSRFToken": csrf_token(admin_client, page)})
    assert answer.status_code == 400 and answer.get_json()["field"] == "membership_id"
