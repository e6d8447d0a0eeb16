"""The five steps of the broadcast wizard: kind, audience, content, when & options, review."""
from flask import flash, render_template, request, url_for
from flask_login import current_user

from ..core.extensions import db
from ..core.forms import choices
from ..core.inputs import MAX_ID, query_cursor, query_int, whole_number
from ..core.timezones import local_to_utc, utc_to_local
from ..core.utils import get_row
from ..core.wizard import StepInvalid, Wizard, WizardStep
from ..network.models import Customer, Product
from ..network.services import search_customers, search_products
from . import drafts
from .forms import AudienceForm, ContentForm, KindForm, ReviewForm, WhenForm
from .mail import email_document, parse_addresses, send_test
from .rendering import known_placeholders, render_broadcast, sample_customer
from .sending import SendError, readiness_problems, send_later, send_now
from .when import WHEN_MODES, is_scheduled, mode_of

# Draft fields whose errors are shown on a differently named form field.
FIELD_NAMES = {"ends_at": "ends_at_local", "send_at": "send_at_local", "customer_ids": "add_customer_ids"}


def update(draft, changes):
    """``drafts.update_draft`` with its errors turned into step errors on the form's fields."""
    try:
        return drafts.update_draft(draft, changes)
    except drafts.DraftError as error:
        raise StepInvalid({FIELD_NAMES.get(k, k): v for k, v in error.errors.items()}) from None


class KindStep(WizardStep):
    """Notice or e-mail."""
    name, title, form_class, template = "kind", "Kind", KindForm, "broadcasts/wizard/kind.html"

    def load(self, draft):
        return {"kind": draft.kind} if draft is not None else {}

    def save(self, draft, form, action):
        update(draft, {"kind": form.kind.data})


class AudienceStep(WizardStep):
    """Customers picked one by one, products with membership statuses, live counts."""
    name, title, form_class = "audience", "Audience", AudienceForm
    template = "broadcasts/wizard/audience.html"

    def load(self, draft):
        return {"product_ids": draft.product_ids, "product_statuses": draft.product_statuses}

    def save(self, draft, form, action):
        removed = set(form.remove_customer_ids.data)
        customers = [i for i in draft.customer_ids if i not in removed]
        customers += [i for i in form.add_customer_ids.data if i not in customers and i not in removed]
        changes = {"customer_ids": customers, "product_ids": form.product_ids.data}
        if form.product_statuses.data or form.product_ids.data:
            changes["product_statuses"] = form.product_statuses.data
        update(draft, changes)
        if form.grant_product.data is not None:
            product = get_row(Product, form.grant_product.data)
            if product is None or product.id not in draft.product_ids:
                raise StepInvalid({"product_ids": "Choose the product before granting permission."})
            drafts.grant_mailing(product, current_user._get_current_object())
            flash(f"E-mail broadcasts to members of “{product.name}” are now allowed "
                  f"(granted by {current_user.email}).", "success")
        if action in ("next", "back"):
            return None
        return self.search_url(draft, form.customer_q.data, form.product_q.data)

    @staticmethod
    def search_url(draft, customer_q="", product_q=""):
        """The audience step showing the results of these searches (a plain GET page)."""
        args = {k: v for k, v in (("customer_q", customer_q), ("product_q", product_q)) if v}
        return url_for("broadcasts.wizard_step", broadcast_id=draft.id, step="audience", **args) + "#picker"

    def missing(self, draft, form):
        if not draft.customer_ids and not draft.product_ids:
            return {"add_customer_ids": "Choose at least one customer or product."}
        lacking = drafts.products_lacking_mailing(draft)
        if lacking:
            return {"product_ids": f"“{lacking[0].name}” has no permission for e-mail broadcasts: "
                                   "grant it below or remove the product."}
        return {}

    def context(self, draft, form):
        customer_q = request.args.get("customer_q", "").strip()
        product_q = request.args.get("product_q", "").strip()
        selected_ids = draft.customer_ids
        variables = {
            "customer_q": customer_q, "product_q": product_q,
            "customer_results": search_customers(customer_q, after=query_cursor("customer_after"),
                                                 per_page=20) if customer_q else None,
            "selected_customers": db.session.scalars(
                db.select(Customer).where(Customer.id.in_(selected_ids[:200])).order_by(Customer.id)).all(),
            "selected_total": len(selected_ids),
            "selected_products": db.session.scalars(
                db.select(Product).where(Product.id.in_(draft.product_ids)).order_by(Product.name)).all(),
            "product_page": search_products(product_q, per_page=100),
            **self.json_state(draft, html=False),
        }
        form.error_targets = self.error_targets(draft, variables)
        return variables

    @staticmethod
    def error_targets(draft, variables) -> dict:
        """Where the error summary links the errors of the fields this step draws by hand (no
        element has their ids): the first of their controls the page shows (audience.html gives
        them the ids <field>-0), else the search box that finds them."""
        shown_products = variables["selected_products"] or [
            p for p in variables["product_page"].items if p.id not in draft.product_ids]
        return {"add_customer_ids": "customer_q",
                "remove_customer_ids": ("remove_customer_ids-0" if variables["selected_customers"]
                                        else "customer_q"),
                "product_ids": "product_ids-0" if shown_products else "product_q",
                "grant_product": "grant_product-0" if variables["lacking"] else "product_q"}

    def json_state(self, draft, html=True):
        state = {"counts": drafts.audience_counts(draft), "lacking": drafts.products_lacking_mailing(draft)}
        if html:
            return {"counts_html": render_template("broadcasts/wizard/_counts.html", draft=draft, **state)}
        return state


class ContentStep(WizardStep):
    """Subject, HTML body with a preview, and the notice options."""
    name, title, form_class, template = "content", "Content", ContentForm, "broadcasts/wizard/content.html"

    def load(self, draft):
        return {"subject": draft.subject, "body_html": draft.body_html, "notice_type": draft.notice_type,
                "dismissible": draft.dismissible, "timezone": draft.timezone,
                "ends_at_local": utc_to_local(draft.ends_at, draft.timezone)}

    def save(self, draft, form, action):
        changes = {"subject": form.subject.data, "body_html": form.body_html.data,
                   "timezone": form.timezone.data}
        if draft.kind == "notice":
            changes.update(notice_type=form.notice_type.data, dismissible=form.dismissible.data,
                           ends_at=_utc(form.ends_at_local.data, form.timezone.data, "ends_at_local"))
        update(draft, changes)
        if action == "preview":
            return url_for("broadcasts.wizard_step", broadcast_id=draft.id, step="content") + "#preview"
        return None

    def missing(self, draft, form):
        errors = {}
        if not draft.subject:
            errors["subject"] = "Write a subject."
        if not draft.body_html.strip():
            errors["body_html"] = "Write the message."
        return errors

    def context(self, draft, form):
        return {"placeholders": known_placeholders(), **preview(draft, sample_customer(draft))}


def _utc(local, zone, field):
    if local is None:
        return None
    try:
        return local_to_utc(local, zone)
    except ValueError as error:
        raise StepInvalid({field: str(error)}) from None


def preview(draft, customer) -> dict:
    """Template variables showing ``draft`` exactly as ``customer`` (or a sample) gets it."""
    rendered = render_broadcast(draft, customer)
    return {"sample": customer, "rendered": rendered,
            "email_html": email_document(draft, customer) if draft.kind == "email" else None}


class WhenStep(WizardStep):
    """When to send (see ``when.WHEN_MODES``), labels, sender and tracking options."""
    name, title, form_class, template = "when", "When & options", WhenForm, "broadcasts/wizard/when.html"

    def make_form(self, draft, formdata=None):
        form = super().make_form(draft, formdata)
        form.schedule.choices = choices((mode.name, mode.label) for mode in WHEN_MODES.values())
        return form

    def load(self, draft):
        data = {"schedule": mode_of(draft).name, "timezone": draft.timezone,
                "labels": ", ".join(item.label for item in draft.labels), "from_name": draft.from_name,
                "reply_to": draft.reply_to, "track_opens": draft.track_opens,
                "track_clicks": draft.track_clicks}
        for mode in WHEN_MODES.values():
            data.update(mode.load(draft) if mode.matches(draft) else {})
        return data

    def save(self, draft, form, action):
        changes = {"timezone": form.timezone.data, "labels": form.labels.data or ""}
        chosen = WHEN_MODES[form.schedule.data]
        for mode in WHEN_MODES.values():
            if mode is not chosen:
                mode.clear(draft)
        changes.update(chosen.changes(form))
        if draft.kind == "email":
            changes.update(from_name=form.from_name.data, reply_to=form.reply_to.data,
                           track_opens=form.track_opens.data, track_clicks=form.track_clicks.data)
        update(draft, changes)
        chosen.apply(draft, form)

    def missing(self, draft, form):
        return WHEN_MODES[form.schedule.data].missing(draft, form)

    def context(self, draft, form):
        return {"modes": list(WHEN_MODES.values())}


class ReviewStep(WizardStep):
    """Summary, counts, a rendered sample, test sends, then Send or Schedule."""
    name, title, form_class, template = "review", "Review", ReviewForm, "broadcasts/wizard/review.html"

    def load(self, draft):
        return {"revision": draft.revision}

    def save(self, draft, form, action):
        if action == "test":
            return self._send_test(draft, form)
        if action != "send":
            return None
        try:
            revision = whole_number(form.revision.data, "The revision", 0, MAX_ID)
        except ValueError:
            revision = None
        try:
            if is_scheduled(draft):
                send_later(draft, revision)
                flash(f"Scheduled: {mode_of(draft).describe(draft)}.", "success")
            else:
                send_now(draft, revision)
                flash("Published on the dashboards." if draft.kind == "notice"
                      else "Sending has started.", "success")
        except SendError as error:
            raise StepInvalid({"revision": str(error)}) from None
        return url_for("broadcasts.detail", broadcast_id=draft.id)

    def _send_test(self, draft, form):
        try:
            addresses = parse_addresses(form.test_addresses.data)
        except ValueError as error:
            raise StepInvalid({"test_addresses": str(error)}) from None
        chosen = form.test_customer_id.data
        customer = get_row(Customer, chosen) if chosen else sample_customer(draft)
        if customer is None and chosen:
            raise StepInvalid({"test_customer_id": f"There is no customer {chosen}."})
        for result in send_test(draft, addresses, customer):
            if result.ok:
                flash(f"Test sent to {result.address}.", "success")
            else:
                flash(f"Test to {result.address} failed: {result.reply}", "error")
        return url_for("broadcasts.wizard_step", broadcast_id=draft.id, step="review",
                       customer=form.test_customer_id.data or None)

    def context(self, draft, form):
        chosen = query_int("customer", None, 0, MAX_ID)
        customer = db.session.get(Customer, chosen) if chosen is not None else None
        customer = customer or sample_customer(draft)
        if not form.test_customer_id.data and customer is not None:
            form.test_customer_id.data = customer.id
        return {"counts": drafts.audience_counts(draft), "problems": readiness_problems(draft),
                "mode": mode_of(draft), "lacking": drafts.products_lacking_mailing(draft),
                "products": db.session.scalars(
                    db.select(Product).where(Product.id.in_(draft.product_ids))).all(),
                **preview(draft, customer)}


BROADCAST_WIZARD = Wizard("broadcasts.wizard_step",
                          [KindStep(), AudienceStep(), ContentStep(), WhenStep(), ReviewStep()],
                          done_endpoint="broadcasts.detail", editable=lambda d: d.status == "draft",
                          id_arg="broadcast_id", index_endpoint="broadcasts.index")
