"""The engagement report of one broadcast run: opens, clicks per link, unsubscribes, bounces,
complaints with rates, and sends/opens/clicks over time. Engagement is counted in SQL; sends
come from the ledger's live counters (app/delivery/progress.py).

The run page shows it as a panel (``engagement_panel``, on the ``delivery_run_panels`` filter).
"""
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from flask import render_template
from markupsafe import Markup
from sqlalchemy import distinct, func, select, union

from ..core.extensions import db
from .chart import line_chart, series_in
from .ledger import sends_per_hour, sent_count
from .models import TrackedClick, TrackedOpen, TrackingEvent

MAX_LINKS = 50


@dataclass
class LinkStats:
    """Clicks on one destination URL."""
    url: str
    clicks: int
    unique: int


@dataclass
class EngagementSummary:
    """Counts for one run; unique counts only cover per-recipient tracking."""
    run_id: int
    sent: int = 0
    opens: int = 0
    unique_opens: int = 0
    clicks: int = 0
    unique_clicks: int = 0
    anonymous_opens: int = 0
    links: list = field(default_factory=list)
    unsubscribes: int = 0
    hard_bounces: int = 0
    soft_bounces: int = 0
    complaints: int = 0
    points: list = field(default_factory=list)
    bucket: str = "hour"

    @property
    def identified(self) -> bool:
        """True when some opens or clicks were recorded per recipient."""
        return self.unique_opens > 0 or self.unique_clicks > 0

    def rate(self, count: int) -> float | None:
        """``count`` as a share of messages sent, or None before anything was sent."""
        return count / self.sent if self.sent else None

    @property
    def rates(self) -> dict:
        """Rates by name: opens and clicks (unique), unsubscribes, bounces, complaints."""
        return {"opens": self.rate(self.unique_opens), "clicks": self.rate(self.unique_clicks),
                "unsubscribes": self.rate(self.unsubscribes),
                "bounces": self.rate(self.hard_bounces + self.soft_bounces),
                "complaints": self.rate(self.complaints)}

    @property
    def series(self) -> list:
        """Names of the chart's series that have data (sends need the delivery ledger)."""
        return series_in(self.points)

    @property
    def chart(self):
        """The SVG chart of sends, opens and clicks over time (Markup, empty without data)."""
        return line_chart(self.points, self.bucket, f"Sends, opens and clicks per {self.bucket}")


def _hour(column):
    if db.session.get_bind().dialect.name == "postgresql":
        return func.date_trunc("hour", column)
    return func.strftime("%Y-%m-%d %H:00:00", column)


def _as_datetime(value) -> datetime:
    return value if isinstance(value, datetime) else datetime.fromisoformat(str(value))


def _per_hour(model_or_table, time_column, *where) -> dict:
    bucket = _hour(time_column).label("bucket")
    rows = db.session.execute(select(bucket, func.count()).select_from(model_or_table)
                              .where(*where).group_by(bucket))
    return {_as_datetime(moment): count for moment, count in rows if moment is not None}


def _series(run_id: int) -> tuple[list, str]:
    series = {"opens": _per_hour(TrackedOpen, TrackedOpen.created_at, TrackedOpen.run_id == run_id),
              "clicks": _per_hour(TrackedClick, TrackedClick.created_at, TrackedClick.run_id == run_id)}
    series["sends"] = sends_per_hour(run_id)
    moments = sorted({m for counts in series.values() for m in counts})
    if not moments:
        return [], "hour"
    bucket = "day" if moments[-1] - moments[0] > timedelta(hours=72) else "hour"
    merged = defaultdict(lambda: defaultdict(int))
    for name, counts in series.items():
        for moment, count in counts.items():
            key = moment.replace(hour=0) if bucket == "day" else moment
            merged[key][name] += count
    step = timedelta(days=1) if bucket == "day" else timedelta(hours=1)
    start = min(merged)
    end = max(merged)
    points, moment = [], start
    while moment <= end:
        points.append((moment, dict(merged.get(moment, {}))))
        moment += step
    return points, bucket


def engagement_summary(run_id: int) -> EngagementSummary:
    """Every count of the report for ``run_id`` (a handful of aggregate queries)."""
    summary = EngagementSummary(run_id)
    summary.sent = sent_count(run_id)
    summary.opens, summary.anonymous_opens = db.session.execute(
        select(func.count(), func.count().filter(TrackedOpen.delivery_id.is_(None)))
        .where(TrackedOpen.run_id == run_id)).one()
    summary.clicks, summary.unique_clicks = db.session.execute(
        select(func.count(), func.count(distinct(TrackedClick.delivery_id)))
        .where(TrackedClick.run_id == run_id)).one()
    identified = union(  # a recipient who clicked opened the message, images blocked or not
        select(TrackedOpen.delivery_id).where(TrackedOpen.run_id == run_id, TrackedOpen.delivery_id.is_not(None)),
        select(TrackedClick.delivery_id).where(TrackedClick.run_id == run_id, TrackedClick.delivery_id.is_not(None)),
    ).subquery()
    summary.unique_opens = db.session.scalar(select(func.count()).select_from(identified))
    clicks = func.count().label("clicks")
    summary.links = [LinkStats(url, count, unique) for url, count, unique in db.session.execute(
        select(TrackedClick.url, clicks, func.count(distinct(TrackedClick.delivery_id)))
        .where(TrackedClick.run_id == run_id).group_by(TrackedClick.url)
        .order_by(clicks.desc(), TrackedClick.url).limit(MAX_LINKS))]
    for kind, bounce_type, count in db.session.execute(
            select(TrackingEvent.kind, TrackingEvent.bounce_type, func.count(distinct(TrackingEvent.email)))
            .where(TrackingEvent.run_id == run_id).group_by(TrackingEvent.kind, TrackingEvent.bounce_type)):
        if kind == "unsubscribed":
            summary.unsubscribes = count
        elif kind == "complained":
            summary.complaints = count
        elif kind == "bounced":
            setattr(summary, f"{bounce_type}_bounces", count)
    summary.points, summary.bucket = _series(run_id)
    return summary


def engagement_panel(panels: list, run) -> list:
    """``delivery_run_panels``: the run's engagement report (opens, clicks, unsubscribes, bounces)."""
    html = render_template("tracking/_run_report.html", engagement=engagement_summary(run.id))
    return [*panels, Markup(html)]
