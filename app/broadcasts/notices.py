"""Notices on the customer dashboard: the live-notice query, the panel, and dismissals.

One query per dashboard view finds every live notice run that targets the customer directly or
through a membership in one of the broadcast's statuses (so a customer who got the product after
the notice was published sees it too), minus the runs the user dismissed. It reads only the live
runs (a partial index on their end time) and checks each against the customer's targets; there is no
LIMIT, so no live notice is ever hidden. docs/notices.md shows the plan on PostgreSQL.
"""
from dataclasses import dataclass
from functools import lru_cache

from markupsafe import Markup
from sqlalchemy import bindparam, exists, or_, select
from sqlalchemy.exc import IntegrityError

from ..core.extensions import db
from ..core.hooks import do_action
from ..core.utils import utcnow
from ..mail.placeholders import compile_template
from ..network.models import Membership, Site
from .models import Broadcast, BroadcastRun, BroadcastTarget, NoticeDismissal
from .rendering import placeholder_values, render_for, site_url_of
from .sql import json_list_contains


@dataclass(frozen=True)
class LiveNotice:
    """One notice run as a customer sees it, rendered for them."""
    run_id: int
    broadcast_id: int
    notice_type: str
    dismissible: bool
    subject: str
    html: Markup
    published_at: object


def live_notices_query(customer_id: int, user_id: int, now=None):
    """The select of live, undismissed notice runs for a customer, newest first (values bound).

    A MATERIALIZED CTE first reads the live runs (a range of the partial index on
    ``visible_until``) with their broadcasts; only those few rows are then checked for the
    customer (against two hashed sets, each built once) and for dismissals. Columns: run id,
    broadcast id, type, dismissible, subject, body, published time, and the domain and path of
    the customer's first site (for ``{{ site_url }}``) as scalar subqueries.
    """
    return _statement(False).params(customer_id=customer_id, user_id=user_id, now=now or utcnow())


@lru_cache(maxsize=2)
def _statement(one_run: bool):
    """The live-notice select with bind parameters ``customer_id``, ``user_id``, ``now`` (and
    ``run_id`` when ``one_run``), built once per process (building it is costly; bench/README.md)."""
    customer_id, user_id, now = bindparam("customer_id"), bindparam("user_id"), bindparam("now")
    live = (select(BroadcastRun.id.label("run_id"), BroadcastRun.broadcast_id, BroadcastRun.occurrence_at,
                   Broadcast.notice_type, Broadcast.dismissible, Broadcast.subject, Broadcast.body_html,
                   Broadcast.product_statuses)
            .join(Broadcast, Broadcast.id == BroadcastRun.broadcast_id)
            .where(BroadcastRun.status == "published", BroadcastRun.visible_until > now,
                   Broadcast.kind == "notice", or_(Broadcast.ends_at.is_(None), Broadcast.ends_at > now))
            .cte("live_runs").prefix_with("MATERIALIZED"))
    # The broadcasts that target one of the customer's products, found once from the customer's
    # few memberships (not once per live run), with the membership's status.
    by_membership = (select(BroadcastTarget.broadcast_id, Membership.status)
                     .join(Membership, Membership.product_id == BroadcastTarget.product_id)
                     .where(Membership.customer_id == customer_id)
                     .cte("customer_targets").prefix_with("MATERIALIZED"))
    direct = exists().where(BroadcastTarget.broadcast_id == live.c.broadcast_id,
                            BroadcastTarget.customer_id == customer_id)
    # Matched in one hash join of the two small CTEs (not a scan of customer_targets per live run).
    candidate = live.alias("candidate")
    by_product = live.c.broadcast_id.in_(
        select(candidate.c.broadcast_id)
        .join(by_membership, by_membership.c.broadcast_id == candidate.c.broadcast_id)
        .where(json_list_contains(candidate.c.product_statuses, by_membership.c.status)))
    dismissed = exists().where(NoticeDismissal.user_id == user_id, NoticeDismissal.run_id == live.c.run_id)
    first_site = select(Site).where(Site.customer_id == customer_id).order_by(Site.id).limit(1)
    query = (select(live.c.run_id, live.c.broadcast_id, live.c.notice_type, live.c.dismissible,
                    live.c.subject, live.c.body_html, live.c.occurrence_at,
                    first_site.with_only_columns(Site.domain).scalar_subquery(),
                    first_site.with_only_columns(Site.path).scalar_subquery())
             .where(or_(direct, by_product), ~dismissed)
             .order_by(live.c.occurrence_at.desc(), live.c.run_id.desc()))
    return query.where(live.c.run_id == bindparam("run_id")) if one_run else query


# Notice subjects and bodies split into parts, keyed by their text (so never stale).
_compiled = lru_cache(maxsize=2048)(compile_template)


def live_notices(customer, user_id: int, run_id: int | None = None) -> list[LiveNotice]:
    """The customer's live notices rendered for them (one query; ``run_id`` narrows to one run)."""
    values = {"customer_id": customer.id, "user_id": user_id, "now": utcnow()}
    if run_id is not None:
        values["run_id"] = run_id
    # On the session's connection: a plain Core select skips the ORM's statement handling
    # (bench/README.md); the flush keeps what session.execute's autoflush guaranteed.
    db.session.flush()
    rows = db.session.connection().execute(_statement(run_id is not None), values).all()
    if not rows:
        return []
    used = {name for row in rows for text in (row[4], row[5]) for name in _compiled(text).parts[1::2]}
    values = placeholder_values(customer, site_url=site_url_of(rows[0][7], rows[0][8]), used=used)
    notices = []
    for run, broadcast, kind, dismissible, subject, body, published, _domain, _path in rows:
        rendered = render_for(subject, body, values, compile=_compiled)
        notices.append(LiveNotice(run, broadcast, kind, dismissible, rendered.subject,
                                  rendered.html, published))
    return notices


class CannotDismiss(Exception):
    """The notice is not shown to this customer, or cannot be dismissed."""


def dismiss(customer, user, run_id: int) -> None:
    """Hide notice run ``run_id`` for ``user`` from now on (idempotent); the caller commits."""
    shown = live_notices(customer, user.id, run_id)
    if not shown:
        already = db.session.get(NoticeDismissal, (user.id, run_id))
        if already is not None:
            return
        raise CannotDismiss("This notice is not shown to you.")
    if not shown[0].dismissible:
        raise CannotDismiss("This notice cannot be dismissed.")
    try:
        with db.session.begin_nested():
            db.session.add(NoticeDismissal(user_id=user.id, run_id=run_id))
    except IntegrityError:  # dismissed twice at the same moment
        return
    do_action("notice_dismissed", user, run_id)

