"""The engagement report of a run: counts, rates, clicks per link and the SVG chart."""
import re
from datetime import timedelta

from flask import render_template_string

from app.tracking.links import apply_tracking
from app.tracking.report import engagement_summary
from app.tracking.services import record_bounce, record_complaint, unsubscribe
from app.core.utils import utcnow


def _visit(client, html):
    for url in re.findall(r'(?:href|src)="http://herald\.test(/t/[^"]+)"', html):
        client.get(url)


def test_summary_per_recipient(app, client, db, run, ledger, per_recipient):
    sent_at = utcnow() - timedelta(hours=3)
    for delivery_id in range(1, 11):
        ledger.add(delivery_id, run.id, f"r{delivery_id}@example.com", f"<m{delivery_id}@herald.test>",
                   sent_at=sent_at)
    body = '<a href="https://example.com/a">A</a> <a href="https://example.com/b">B</a>'
    for delivery_id in (1, 2, 3):  # three open (1 twice), two click A, one clicks B with images off
        html = apply_tracking(body, delivery_id, run.id, opens=True, clicks=True)
        client.get(re.search(r'src="http://herald\.test(/t/o/[^"]+)"', html).group(1))
    client.get(re.search(r'src="http://herald\.test(/t/o/[^"]+)"', apply_tracking(body, 1, run.id, True, True)).group(1))
    for delivery_id, index in ((1, 0), (2, 0), (4, 1)):
        html = apply_tracking(body, delivery_id, run.id, opens=False, clicks=True)
        client.get(re.findall(r'href="http://herald\.test(/t/c/[^"]+)"', html)[index])
    unsubscribe("r5@example.com", run.id, "one-click")
    record_bounce("r6@example.com", "hard", "smtp", "550", message_id="<m6@herald.test>")
    record_bounce("r7@example.com", "soft", "dsn", "452", message_id="<m7@herald.test>")
    record_complaint("r8@example.com", "webhook", message_id="<m8@herald.test>")
    db.session.commit()

    summary = engagement_summary(run.id)
    assert summary.sent == 10
    assert (summary.opens, summary.unique_opens) == (4, 4)  # r1..r3 opened, r4 clicked
    assert (summary.clicks, summary.unique_clicks) == (3, 3)
    assert [(link.url, link.clicks, link.unique) for link in summary.links] == [
        ("https://example.com/a", 2, 2), ("https://example.com/b", 1, 1)]
    assert (summary.unsubscribes, summary.hard_bounces, summary.soft_bounces, summary.complaints) == (1, 1, 1, 1)
    assert summary.rates["opens"] == 0.4 and summary.rates["bounces"] == 0.2
    sends = sum(values.get("sends", 0) for _, values in summary.points)
    assert sends == 10 and sum(values.get("opens", 0) for _, values in summary.points) == 4

    page = render_template_string('{% include "tracking/_run_report.html" %}', engagement=summary)
    assert "<svg" in page and "Unique opens" in page and "40.0%" in page
    assert "https://example.com/a" in page and "20.0%" in page


def test_anonymous_summary_has_totals_only(app, client, db, run, ledger):
    for delivery_id in (1, 2, 3):
        ledger.add(delivery_id, run.id, f"r{delivery_id}@example.com", f"<m{delivery_id}@herald.test>",
                   sent_at=utcnow())
    html = apply_tracking('<a href="https://example.com/a">A</a>', 1, run.id, True, True)
    _visit(client, html)
    _visit(client, html)
    summary = engagement_summary(run.id)
    assert (summary.opens, summary.unique_opens, summary.anonymous_opens) == (2, 0, 2)
    assert summary.clicks == 2 and not summary.identified
    assert summary.sent == 3  # counted from the delivery ledger
    page = render_template_string('{% include "tracking/_run_report.html" %}', engagement=summary)
    assert "counted anonymously" in page and "Unique opens" not in page


def test_empty_run_renders_without_chart(app, run):
    summary = engagement_summary(run.id)
    page = render_template_string('{% include "tracking/_run_report.html" %}', engagement=summary)
    assert "<svg" not in page and "Engagement" in page
