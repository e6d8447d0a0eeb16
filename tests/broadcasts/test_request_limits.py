"""Requests have limits: ids and numbers their ranges, JSON its size, depth and text, lists their
caps checked before any work, wrong types a message; each kind answers 4xx with a message, fast."""
import time

import pytest

from app.api.keys import issue_key
from app.core.extensions import db
from app.core.inputs import MAX_JSON_BYTES
from app.testing import csrf_token
from tests.core.fuzz_content import UNCLOSED

HUGE = "99999999999999999999999"  # past 64 bits


@pytest.fixture
def api(client, network):
    """Call /api/v1 with a key of the network's admin."""
    _, secret = issue_key(network.admin, "tests")
    db.session.commit()

    def call(method, path, **kwargs):
        return client.open(f"/api/v1{path}", method=method,
                           headers={"Authorization": f"Bearer {secret}"}, **kwargs)
    return call


def _refused(response, status=400, words=""):
    body = response.get_json()
    assert response.status_code == status, (response.status_code, response.get_data(as_text=True)[:300])
    assert body["error"] and words in body["error"], body
    return body


@pytest.mark.parametrize("path", [f"/broadcasts/{HUGE}", "/broadcasts/²", f"/delivery/runs/{HUGE}",
                                  f"/broadcasts/{HUGE}/schedule", "/broadcasts/2147483648"])
def test_ids_past_their_range_in_api_urls_are_404(api, path):
    _refused(api("GET", path), 404)


@pytest.mark.parametrize("path", [f"/network/customers/{HUGE}", f"/network/broadcasts/{HUGE}",
                                  f"/network/system-emails/{HUGE}/log", f"/network/broadcasts/1/runs/{HUGE}"])
def test_ids_past_their_range_in_admin_urls_are_404(boss, path):
    assert boss.get(path).status_code == 404


@pytest.mark.parametrize("query", [f"after={HUGE}", "after=-1", "after=²", "limit=0", "limit=201", f"limit={HUGE}"])
def test_pagination_out_of_range_is_400_with_a_message(api, query):
    for path in ("/broadcasts", "/customers", "/products"):
        _refused(api("GET", f"{path}?{query}"), 400, "The query argument")


@pytest.mark.parametrize("path", [f"/network/customers?after={HUGE}", f"/network/broadcasts/?before={HUGE}",
                                  f"/network/system-emails/1/log?after={HUGE}", f"/network/payments/?after={HUGE}",
                                  "/network/customers?q=%00"])
def test_admin_cursors_and_text_out_of_range_are_400(boss, path):
    response = boss.get(path)
    assert response.status_code in (400, 404) and response.status_code != 500
    if response.status_code == 400:
        assert "query argument" in response.get_data(as_text=True) or "not allowed" in response.get_data(as_text=True)


def test_json_nested_thousands_deep_is_400(api):
    _refused(api("POST", "/broadcasts", data="[" * 5000 + "]" * 5000, content_type="application/json"),
             400, "nested")
    deep = '{"kind": "notice", "labels": ' + "[" * 40 + "]" * 40 + "}"
    _refused(api("POST", "/broadcasts", data=deep, content_type="application/json"), 400, "nested more than 32")
    # A top-level array 40 deep is refused for its depth (docs/api.md), not as "must be a JSON
    # object": the depth is checked before the shape (review d, item 12).
    _refused(api("POST", "/broadcasts", data="[" * 40 + "]" * 40, content_type="application/json"),
             400, "nested more than 32")


def test_lone_surrogates_and_nul_in_json_text_are_400(api):
    for text in ('"\\ud800"', '"a\\u0000b"'):
        _refused(api("POST", "/broadcasts", data='{"kind": "notice", "subject": %s}' % text,
                     content_type="application/json"), 400, "not allowed")


def test_numbers_past_19_digits_nan_and_a_large_body_are_refused(api):
    _refused(api("POST", "/broadcasts", data='{"kind": "notice", "customer_ids": [%s]}' % ("9" * 5000),
                 content_type="application/json"), 400, "more than 19 digits")
    _refused(api("POST", "/broadcasts", data='{"kind": "notice", "dismissible": NaN}',
                 content_type="application/json"), 400, "not valid JSON")
    _refused(api("POST", "/broadcasts", data='{"kind": "notice", "dismissible": 1e309}',
                 content_type="application/json"), 400, "not a finite number")
    _refused(api("POST", "/broadcasts", data='{"kind": "notice", "subject": "%s"}' % ("x" * MAX_JSON_BYTES),
                 content_type="application/json"), 413, "larger than")


def test_a_list_of_tens_of_thousands_of_ids_is_refused_before_any_work(api, network):
    started = time.monotonic()
    body = _refused(api("POST", "/broadcasts", json={"kind": "notice", "customer_ids": list(range(1, 60_001))}),
                    400, "At most 10,000 customers")
    assert "customer_ids" in body["fields"] and time.monotonic() - started < 2
    _refused(api("POST", "/broadcasts", json={"kind": "notice", "product_ids": [1] * 5000}), 400, "at most 1,000")
    _refused(api("POST", "/broadcasts", json={"kind": "notice", "customer_ids": [int(HUGE)]}), 400,
             "more than 19 digits")
    _refused(api("POST", "/broadcasts", json={"kind": "notice", "customer_ids": [2**40]}), 400, "not a valid id")


@pytest.mark.parametrize("body, field", [
    ({"kind": "email", "timezone": ["Europe/Amsterdam"], "send_at": "2030-01-01T10:00"}, "timezone"),
    ({"kind": "email", "send_at": 5}, "send_at"),
    ({"kind": "email", "ends_at": {"a": 1}}, "ends_at"),
    ({"kind": "email", "send_at": "0001-01-01T00:00:00+01:00"}, "send_at"),
    ({"kind": "email", "send_at": "9999-12-31T23:59:00-05:00"}, "send_at"),
    ({"kind": "email", "product_statuses": [["active"]]}, "product_statuses"),
    ({"kind": "email", "labels": [{"a": 1}]}, "labels"),
    ({"kind": {"x": 1}}, "kind"),
])
def test_wrong_json_types_for_fields_are_400_naming_the_field(api, body, field):
    assert field in _refused(api("POST", "/broadcasts", json=body))["fields"]


def test_wrong_types_in_send_and_schedule_bodies(api, network):
    draft = api("POST", "/broadcasts", json={"kind": "notice"}).get_json()["id"]
    _refused(api("POST", f"/broadcasts/{draft}/send", json={"revision": HUGE}), 400, "revision")
    _refused(api("POST", f"/broadcasts/{draft}/send", json={"revision": int(HUGE[:19])}), 400, "revision")
    for body in ({"kind": "daily", "start": ["x"]}, {"kind": "weekly", "weekdays": [HUGE]},
                 {"kind": "daily", "interval": int(HUGE[:19])}, {"kind": "daily", "timezone": "Mars/Base"}):
        response = api("PUT", f"/broadcasts/{draft}/schedule", json=body)
        assert response.status_code == 400 and response.get_json()["error"], body


def test_wizard_form_ids_out_of_range_are_a_form_error(wizard):
    wizard.start("notice")
    for value in (HUGE, "²", "2147483648"):
        response = wizard.post("audience", {"add_customer_ids": value})
        assert response.status_code in (200, 400) and "not a valid id" in response.get_data(as_text=True)
    response = wizard.client.get(wizard.url("audience") + f"?customer_q=a&customer_after={HUGE}")
    assert response.status_code == 400


def test_numbers_typed_into_search_boxes_and_forms_past_their_range(api, boss):
    for q in (HUGE, "²", "2147483648"):
        assert api("GET", f"/customers?q={q}").get_json()["customers"] == []
        assert api("GET", f"/broadcasts?q={q}").status_code == 200
        assert boss.get(f"/network/customers?q={q}").status_code == 200
    token = csrf_token(boss, "/network/system-emails/events")
    answer = boss.post("/network/system-emails/events/customer_registered/fire",
                       data={"csrf_token": token, "customer": HUGE})
    assert answer.status_code == 302


def test_rrule_numbers_in_other_scripts_or_past_any_range_are_refused(api, network):
    draft = api("POST", "/broadcasts", json={"kind": "notice"}).get_json()["id"]
    for rule in ("RRULE:FREQ=DAILY;COUNT=²", "RRULE:FREQ=DAILY;INTERVAL=" + "9" * 5000,
                 "RRULE:FREQ=MONTHLY;BYMONTHDAY=" + "1" * 30):
        body = {"kind": "rrule", "rrule": "DTSTART:20300101T090000Z\n" + rule}
        _refused(api("PUT", f"/broadcasts/{draft}/schedule", json=body), 400, "rrule")


@pytest.mark.parametrize("shape", UNCLOSED)
def test_markup_left_open_thousands_of_times_is_answered_in_linear_time(api, shape):
    body, cpu = UNCLOSED[shape], time.thread_time()
    answer = api("POST", "/broadcasts", json={"kind": "notice", "subject": "Hi", "body_html": body})
    assert answer.status_code in (201, 400) and time.thread_time() - cpu < 2.0, (answer.status_code, time.thread_time() - cpu)


def test_api_ids_are_json_whole_numbers_and_odd_values_get_their_own_message(api, network):
    for ids in (["+1"], [" 1 "], ["01"], ["1"], [1.0], [True]):
        answer = api("POST", "/broadcasts", json={"kind": "notice", "customer_ids": ids})
        assert answer.status_code == 400 and "not a valid id" in answer.get_json()["fields"]["customer_ids"], ids
    late = api("POST", "/broadcasts", json={"kind": "notice", "ends_at": "9999-12-31T23:59",
                                            "timezone": "America/Los_Angeles"})
    assert late.status_code == 400 and "in UTC it falls outside the years 1 to 9999" in late.get_json()["fields"]["ends_at"]
    draft = api("POST", "/broadcasts", json={"kind": "email", "subject": "Hi", "body_html": "<p>x</p>",
                                             "customer_ids": [network.ann.id]}).get_json()
    zero = api("PUT", f"/broadcasts/{draft['id']}/schedule", json={"kind": "daily", "interval": 0,
                                                                    "start": "2031-01-01T09:00"})
    assert zero.status_code == 400 and "1 or more" in str(zero.get_json()), zero.get_json()


@pytest.mark.parametrize("start", ["9999-12-31T23:00-05:00", "0001-01-01T00:30+01:00", "9999-12-31T23:59:59Z"])
def test_a_schedule_start_past_year_1_or_9999_in_its_zone_is_400_not_500(api, network, start):
    draft = api("POST", "/broadcasts", json={"kind": "notice", "subject": "Hi", "body_html": "<p>x</p>",
                                             "customer_ids": [network.ann.id]}).get_json()
    for kind in ("daily", "weekly", "monthly"):
        answer = api("PUT", f"/broadcasts/{draft['id']}/schedule", json={"kind": kind, "start": start,
                                                                         "timezone": "America/New_York"})
        assert answer.status_code == 400, (kind, answer.status_code)
    odd = api("PUT", f"/broadcasts/{draft['id']}/schedule", json={"kind": "monthly", "month_day": 0,
                                                                  "start": "2031-01-01T09:00"})
    assert odd.status_code == 400 and "1 or more" in str(odd.get_json())
    many = api("PUT", f"/broadcasts/{draft['id']}/schedule", json={"kind": "weekly", "weekdays": [0] * 5000,
                                                                   "start": "2031-01-01T09:00"})
    assert many.status_code == 400 and "at most 7" in str(many.get_json())


def test_one_line_texts_and_labels_refuse_separators_and_blanks(api):
    for body, field in (({"subject": "Hi\u2028there"}, "subject"), ({"labels": ["\u200b"]}, "labels"),
                        ({"labels": ["\u3164"]}, "labels"), ({"from_name": "A\u0085B"}, "from_name")):
        answer = api("POST", "/broadcasts", json={"kind": "email", **body})
        assert answer.status_code == 400 and field in answer.get_json()["fields"], (body, answer.get_json())
