"""The customer dashboard page."""
from flask import Blueprint, render_template
from sqlalchemy import select
from sqlalchemy.orm import joinedload

from ..core.extensions import db
from ..core.hooks import apply_filters
from ..network.models import Membership, Site
from ..network.services import current_customer

bp = Blueprint("dashboard", __name__, url_prefix="/dashboard")


@bp.route("/")
def index():
    """The customer's sites, memberships and the panels (notices and more) other domains add."""
    customer = current_customer()
    sites, memberships, panels = [], [], []
    if customer is not None:
        sites = db.session.scalars(select(Site).where(Site.customer_id == customer.id)
                                   .order_by(Site.id)).all()
        memberships = db.session.scalars(select(Membership)
                                         .where(Membership.customer_id == customer.id)
                                         .options(joinedload(Membership.product))
                                         .order_by(Membership.id)).all()
        panels = apply_filters("customer_dashboard_panels", [], customer)
    return render_template("dashboard/index.html", customer=customer, sites=sites,
                           memberships=memberships, panels=panels)
