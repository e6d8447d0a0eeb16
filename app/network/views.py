"""The network admin's core pages: dashboard, customers, products and sites."""
from flask import Blueprint, abort, flash, redirect, render_template, request, url_for
from sqlalchemy import func, select

from ..core.extensions import db
from ..core.hooks import apply_filters
from ..core.redirects import back_or
from .models import Customer, Membership, Product, Site
from .services import (
    product_member_counts,
    publish_site,
    search_customers,
    search_products,
    search_sites,
)

bp = Blueprint("network", __name__, url_prefix="/network")


def _cursor(name):
    value = request.args.get(name, "")
    return int(value) if value.isdigit() else None


def _page(search):
    q = request.args.get("q", "").strip()
    return q, search(q, after=_cursor("after"), before=_cursor("before"))


@bp.route("/")
def dashboard():
    """The network overview: counts and panels added by the domains and plugins."""
    stats = {
        "customers": db.session.scalar(select(func.max(Customer.id))) or 0,
        "products": db.session.scalar(select(func.count()).select_from(Product)),
        "sites": db.session.scalar(select(func.max(Site.id))) or 0,
    }
    panels = apply_filters("network_dashboard_panels", [])
    return render_template("network/dashboard.html", stats=stats, panels=panels)


@bp.route("/customers")
def customers():
    """Customers, searchable by id, e-mail or name prefix, paginated by id."""
    q, page = _page(search_customers)
    return render_template("network/customers.html", q=q, page=page)


@bp.route("/customers/<int:customer_id>")
def customer(customer_id):
    """One customer with sites and memberships."""
    item = db.session.get(Customer, customer_id) or abort(404)
    memberships = db.session.scalars(select(Membership).where(Membership.customer_id == item.id)
                                     .order_by(Membership.id)).all()
    sites = db.session.scalars(select(Site).where(Site.customer_id == item.id)
                               .order_by(Site.id)).all()
    return render_template("network/customer.html", customer=item, memberships=memberships,
                           sites=sites)


@bp.route("/products")
def products():
    """Products with member counts by status."""
    q, page = _page(search_products)
    counts = product_member_counts([p.id for p in page.items])
    return render_template("network/products.html", q=q, page=page, counts=counts)


@bp.route("/sites")
def sites():
    """Sites, searchable by title or domain prefix."""
    q, page = _page(search_sites)
    return render_template("network/sites.html", q=q, page=page)


@bp.route("/sites/<int:site_id>/publish", methods=["POST"])
def site_publish(site_id):
    """Publish a site (fires ``site_published``)."""
    site = db.session.get(Site, site_id) or abort(404)
    publish_site(site)
    db.session.commit()
    flash(f"{site.title} is published.", "success")
    return redirect(back_or(url_for("network.sites")))
