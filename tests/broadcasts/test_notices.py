"""Notices on the customer dashboard: who sees what, dismissals per run, end dates, one query."""
import re
from datetime import timedelta

import pytest
from flask import current_app
from markupsafe import Markup
from sqlalchemy import event, text

from app.broadcasts.drafts import create_draft
from app.broadcasts.models import NO_END
from app.broadcasts.notices import live_notices, live_notices_query
from app.broadcasts.sending import cancel, send_now, start_run
from app.core.extensions import db
from app.network.models import Membership, Product
from app.core.utils import utcnow
from tests.broadcasts.conftest import add_customer
from app.testing import csrf_token, login


def publish(network, **fields):
    """Create and publish a notice; returns (broadcast, run)."""
    fields = {"kind": "notice", "subject": "Notice", "body_html": "<p>Body</p>", **fields}
    broadcast = create_draft(network.admin, fields)
    run = send_now(broadcast)
    db.session.commit()
    return broadcast, run


def dashboard(client, user):
    login(client, user)
    response = client.get("/dashboard/")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def test_product_notice_reaches_members_in_the_chosen_statuses_only(client, network):
    publish(network, subject="For starters, {{ customer_first_name }}", product_ids=[network.starter.id],
            notice_type="warning", body_html='<p>Visit <a href="{{ site_url }}">your site</a></p>')
    page = dashboard(client, network.ann.user)
    assert "For starters, Ann" in page and "notice-warning" in page
    assert f'href="https://{network.ann.id}.sites.test"' in page
    assert "For starters" not in dashboard(client, network.fay.user)


def test_notice_reaches_customers_who_join_the_product_later(client, network):
    publish(network, subject="Welcome aboard", product_ids=[network.business.id])
    late = add_customer("late@example.com", "Late Larry", with_login=True)
    assert "Welcome aboard" not in dashboard(client, late.user)
    db.session.add(Membership(customer=late, product=network.business, status="trialing"))
    db.session.commit()
    assert "Welcome aboard" in dashboard(client, late.user)


def test_cancelled_members_are_never_included_silently(client, network):
    cat_login = add_customer("cat2@example.com", "Cat Two", network.starter, "cancelled", with_login=True)
    publish(network, subject="Active only", product_ids=[network.starter.id])
    publish(network, subject="Win-back", product_ids=[network.starter.id], product_statuses=["cancelled"])
    page = dashboard(client, cat_login.user)
    assert "Active only" not in page and "Win-back" in page


def test_direct_targets_newest_first_and_values_escaped(client, network):
    network.ann.name = "<b>Ann</b>"
    db.session.commit()
    publish(network, subject="First", customer_ids=[network.ann.id],
            body_html="<p>Hi {{ customer_name }}</p>")
    publish(network, subject="Second", customer_ids=[network.ann.id])
    page = dashboard(client, network.ann.user)
    assert page.index("Second") < page.index("First")
    assert "<p>Hi &lt;b&gt;Ann&lt;/b&gt;</p>" in page


def test_dismiss_without_javascript_persists_per_user_and_per_run(client, network):
    broadcast, run = publish(network, subject="Dismiss me", customer_ids=[network.ann.id, network.fay.id])
    assert "Dismiss me" in dashboard(client, network.ann.user)
    token = csrf_token(client, "/dashboard/")
    response = client.post(f"/dashboard/notices/{run.id}/dismiss", data={"csrf_token": token})
    assert response.status_code == 302 and response.location.endswith("/dashboard/")
    assert "Dismiss me" not in dashboard(client, network.ann.user)
    assert "Dismiss me" in dashboard(client, network.fay.user)  # other users keep it
    # a new run of the same notice (a recurring schedule) is new for everyone
    start_run(broadcast, utcnow() + timedelta(days=7), final=False)
    db.session.commit()
    assert "Dismiss me" in dashboard(client, network.ann.user)


def test_dismiss_with_fetch_answers_json(client, network):
    _, run = publish(network, subject="Fetch me", customer_ids=[network.ann.id])
    login(client, network.ann.user)
    token = csrf_token(client, "/dashboard/")
    response = client.post(f"/dashboard/notices/{run.id}/dismiss", data={"csrf_token": token},
                           headers={"Accept": "application/json"})
    assert response.status_code == 200 and response.get_json() == {"dismissed": run.id}
    again = client.post(f"/dashboard/notices/{run.id}/dismiss", data={"csrf_token": token},
                        headers={"Accept": "application/json"})
    assert again.status_code == 200  # idempotent


def test_customers_cannot_dismiss_others_notices_or_undismissible_ones(client, network):
    _, run = publish(network, subject="Fay only", customer_ids=[network.fay.id])
    _, sticky = publish(network, subject="Sticky", customer_ids=[network.ann.id], dismissible=False)
    login(client, network.ann.user)
    token = csrf_token(client, "/dashboard/")
    assert client.post(f"/dashboard/notices/{run.id}/dismiss", data={"csrf_token": token}).status_code == 404
    response = client.post(f"/dashboard/notices/{sticky.id}/dismiss", data={"csrf_token": token})
    assert response.status_code == 404
    assert client.post(f"/dashboard/notices/{sticky.id}/dismiss").status_code == 400  # no CSRF token
    page = dashboard(client, network.ann.user)
    assert "Sticky" in page and "Fay only" not in page and f"notices/{sticky.id}/dismiss" not in page


def test_ended_cancelled_and_draft_notices_are_hidden(client, network):
    broadcast, run = publish(network, subject="Short lived", customer_ids=[network.ann.id],
                             ends_at=utcnow() + timedelta(hours=1))
    taken_down, forever = publish(network, subject="Taken down", customer_ids=[network.ann.id])
    assert run.visible_until == broadcast.ends_at and forever.visible_until == NO_END
    create_draft(network.admin, {"kind": "notice", "subject": "Draft", "customer_ids": [network.ann.id]})
    cancel(taken_down)
    db.session.commit()
    page = dashboard(client, network.ann.user)
    assert "Short lived" in page and "Taken down" not in page and "Draft" not in page
    run.visible_until = utcnow() - timedelta(seconds=1)  # as if the hour had passed
    db.session.commit()
    assert "Short lived" not in dashboard(client, network.ann.user)


def test_anonymous_and_admins_without_customer_get_no_notices(app, client, network):
    publish(network, subject="Members", product_ids=[network.starter.id])
    assert app.test_client().get("/dashboard/").status_code == 302
    assert "Members" not in dashboard(client, network.admin)


def test_no_limit_hides_older_notices_and_the_lookup_is_one_query(client, network):
    for number in range(30):
        publish(network, subject=f"Notice number {number}", product_ids=[network.starter.id])
    customer, user_id = network.ann, network.ann.user_id  # loaded before counting
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    event.listen(db.engine, "before_cursor_execute", count)
    try:
        notices = live_notices(customer, user_id)
    finally:
        event.remove(db.engine, "before_cursor_execute", count)
    assert len(notices) == 30 and len(statements) == 1
    assert "LIMIT" not in statements[0].split("FROM broadcast_runs")[-1].upper().split("ORDER BY")[-1]


def statements_of_a_dashboard_view(app, client, user_id):
    """The page and the SQL statements of one GET /dashboard/ by ``user_id``, run in an app
    context of its own as a real request is (a new session, nothing cached in ``g``)."""
    statements = []

    def count(conn, cursor, statement, *args):
        statements.append(statement)

    with app.app_context():
        login(client, user_id)
        event.listen(db.engine, "before_cursor_execute", count)
        try:
            response = client.get("/dashboard/")
        finally:
            event.remove(db.engine, "before_cursor_execute", count)
    assert response.status_code == 200
    return response.get_data(as_text=True), statements


@pytest.mark.committed  # counts every statement: no test savepoint may be among them
def test_dashboard_statements_do_not_grow_with_notices_or_memberships(app, client, network):
    user_id = network.ann.user_id
    publish(network, subject="Only one", customer_ids=[network.ann.id])
    page, few = statements_of_a_dashboard_view(app, client, user_id)
    assert page.count('class="notice notice-') == 1
    for number in range(12):
        publish(network, subject=f"Many {number}", product_ids=[network.starter.id, network.business.id])
    extra = Product(slug="extra", name="Extra")
    db.session.add_all([extra, Membership(customer=network.ann, product=network.business, status="active"),
                        Membership(customer=network.ann, product=extra, status="active")])
    db.session.commit()
    page, many = statements_of_a_dashboard_view(app, client, user_id)
    assert page.count('class="notice notice-') == 13 and "Extra" in page and "Business" in page
    assert len(many) == len(few) <= 4, many


def macro_markup(notice_type, subject, html, run_id=None, dismissible=False, page=""):
    """One notice exactly as the ``notice`` macro renders it (with the CSRF token of ``page``)."""
    from flask import render_template_string, url_for

    token = re.search(r'name="csrf-token" content="([^"]+)"', page).group(1) if dismissible else None
    with current_app.test_request_context():
        url = url_for("notices.dismiss_notice", run_id=run_id) if dismissible else None
        return render_template_string(
            '{% from "broadcasts/notices/macros.html" import notice %}'
            "{{ notice(notice_type, subject, html, run_id, url, token) }}",
            notice_type=notice_type, subject=subject, html=Markup(html), run_id=run_id, url=url, token=token)


def test_notice_markup_is_built_once_per_run_and_the_content_is_always_read_fresh(app, client, network):
    broadcast, run = publish(network, subject="Greetings {{ customer_first_name }} & co", notice_type="success",
                             customer_ids=[network.ann.id, network.fay.id],
                             body_html="<p>Hi {{ customer_name }}, see {{ site_url }}</p>")
    page = dashboard(client, network.ann.user)
    assert macro_markup("success", "Greetings Ann & co",
                        f"<p>Hi Ann Active, see https://{network.ann.id}.sites.test</p>", run.id,
                        dismissible=True, page=page) in page
    assert "Hi Fay Business" in dashboard(client, network.fay.user)
    assert len(app.extensions["herald_notice_fragments"]) == 1  # one run, rendered once
    # the content is never cached: an edit (or a fixed typo) shows on the next view
    broadcast.subject, broadcast.body_html, broadcast.notice_type = "Changed", "<p>New body</p>", "error"
    broadcast.dismissible = False
    db.session.commit()
    page = dashboard(client, network.ann.user)
    assert macro_markup("error", "Changed", "<p>New body</p>", run.id) in page
    assert "Greetings" not in page and f"notices/{run.id}/dismiss" not in page


def test_live_notices_see_changes_the_session_has_not_flushed_yet(network):
    publish(network, subject="For business", product_ids=[network.business.id])
    customer, user_id, business = network.ann, network.ann.user_id, network.business  # loaded now
    db.session.add(Membership(customer=customer, product=business, status="active"))
    assert [n.subject for n in live_notices(customer, user_id)] == ["For business"]
    db.session.rollback()


def test_email_runs_never_show_on_dashboards(client, network):
    email = create_draft(network.admin, {"kind": "email", "subject": "Mail only", "body_html": "<p>x</p>",
                                         "customer_ids": [network.ann.id]})
    send_now(email)
    db.session.commit()
    assert "Mail only" not in dashboard(client, network.ann.user)


@pytest.mark.postgres_only
def test_postgres_plan_reads_only_live_runs_through_the_partial_index(network):
    if db.engine.dialect.name != "postgresql":
        pytest.skip("the plan is checked on PostgreSQL (TEST_DATABASE_URL)")
    publish(network, subject="Live", product_ids=[network.starter.id])
    publish(network, subject="Ended", customer_ids=[network.ann.id], ends_at=utcnow() + timedelta(minutes=1))
    db.session.execute(text("SET LOCAL enable_seqscan = off"))  # tiny tables: ask which indexes serve it
    query = live_notices_query(network.ann.id, network.ann.user_id)
    compiled = query.compile(db.engine, compile_kwargs={"literal_binds": True})
    plan = "\n".join(db.session.execute(text(f"EXPLAIN {compiled}")).scalars())
    db.session.rollback()
    assert "CTE live_runs" in plan and "ix_broadcast_runs_live" in plan, plan
    assert "Seq Scan" not in plan, plan
    # both target checks are hashed sets built once, not subplans run again for each live run
    assert re.search(r"Filter: \(\(hashed SubPlan \d+\) OR \(hashed SubPlan \d+\)\)", plan), plan


def test_a_notice_may_show_a_remote_https_image_which_the_dashboard_csp_allows(client, network):
    publish(network, subject="Look", product_ids=[network.starter.id],
            body_html='<p><img src="https://cdn.example/banner.png" alt="Banner"></p>')
    login(client, network.ann.user)
    response = client.get("/dashboard/")
    assert '<img src="https://cdn.example/banner.png" alt="Banner">' in response.get_data(as_text=True)
    img_src = re.search(r"img-src ([^;]*)", response.headers["Content-Security-Policy"]).group(1)
    assert img_src.split() == ["'self'", "data:", "https:"]  # http: and other schemes stay out
