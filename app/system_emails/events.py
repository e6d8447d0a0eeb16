"""Firing events: every active e-mail of the event is rendered, logged and queued after the commit."""
import logging
from datetime import timedelta

from flask import current_app
from sqlalchemy import select

from ..auth.models import User
from ..core.extensions import db
from ..core.hooks import apply_filters, do_action
from ..core.jobs import enqueue_after_commit
from ..core.settings.services import get_option
from ..core.utils import normalise_email, utcnow
from ..mail.addresses import AddressError, normalise_address
from ..mail.suppression import Suppression
from . import jobs
from .models import SystemEmail, SystemEmailSend
from .registry import is_available, registry
from .rendering import TemplateLimit, TemplateProblem, render, render_subject

log = logging.getLogger(__name__)

BLOCKING_REASONS = ("bounced", "complained")  # unsubscribes stop broadcasts, not system e-mails
CUSTOMER_PLACEHOLDERS = {
    "customer_id": "The customer's number",
    "customer_name": "The customer's full name",
    "customer_first_name": "The customer's first name",
    "customer_email": "The customer's e-mail address (where customer e-mails go)",
}
SAMPLE_CUSTOMER = {"customer_id": 1234, "customer_name": "Jane Doe", "customer_first_name": "Jane",
                   "customer_email": "jane.doe@example.com"}


def customer_values(customer) -> dict:
    """The customer placeholders of ``customer`` (a Customer)."""
    name = customer.name or ""
    return {"customer_id": customer.id, "customer_name": name,
            "customer_first_name": name.split(" ", 1)[0] if name else "",
            "customer_email": customer.email}


def global_values() -> dict:
    """The placeholders every event offers: the network's name and address."""
    return {"network_name": get_option("network.name") or "Herald Network",
            "network_url": current_app.config["BASE_URL"]}


def event_values(spec, customer=None, payload=None) -> dict:
    """The full payload of one firing: every declared key present, customer and network filled in."""
    values = {key: "" for key in spec.payload_keys}
    if customer is not None:
        values.update(customer_values(customer))
    values.update(payload or {})
    values.update(global_values())
    return apply_filters("system_email_payload", values, spec.slug)


def fire_event(slug: str, customer=None, **payload) -> list[SystemEmailSend]:
    """Fire event ``slug``: queue every active installed e-mail of it; the caller commits.

    ``customer`` (a Customer, optional) fills the customer placeholders and is where customer
    e-mails go; ``payload`` gives the event's other values. Sends are enqueued on the ``emails``
    queue only after the commit, each after its e-mail's delay. An e-mail that cannot be sent
    (no recipient, template error, suppressed address) is logged as skipped or failed and the
    other e-mails of the event still go. Also runs the ``system_event_fired`` action.
    """
    spec = registry().events.get(slug)
    if spec is None:
        log.warning("fire_event: no event %r is registered", slug)
        return []
    values = event_values(spec, customer, payload)
    sends: list[SystemEmailSend] = []
    if is_available(spec.plugin):
        emails = db.session.scalars(select(SystemEmail).where(SystemEmail.event == slug,
                                                              SystemEmail.active)
                                    .order_by(SystemEmail.id)).all()
        admins = _admin_addresses() if emails else []
        for email in emails:
            sends.extend(_sends_for(email, values, admins))
        _skip_suppressed(sends)
        _queue(sends)
    do_action("system_event_fired", slug, values)
    return sends


def _admin_addresses() -> list[str]:
    rows = db.session.scalars(select(User.email).where(User.is_super_admin, User.active)
                              .order_by(User.id))
    return [spelled(address) for address in rows]


def recipients_for(email: SystemEmail, values: dict, admins: list[str]) -> list[tuple[str, str]]:
    """(role, address) pairs an e-mail goes to for these values: customer, admins, copies; no repeats."""
    pairs = []
    if email.audience in ("customer", "both"):
        address = spelled(values.get("customer_email"))
        if address:
            pairs.append(("customer", address))
    if email.audience in ("admins", "both"):
        pairs += [("admin", address) for address in admins]
    elif email.copy_admins:
        pairs += [("copy", address) for address in admins]
    seen, unique = set(), []
    for role, address in pairs:
        if normalise_email(address) not in seen:  # compared in lower case, sent as spelled
            seen.add(normalise_email(address))
            unique.append((role, address))
    return unique


def spelled(text) -> str:
    """An address as it goes on the envelope and in To: the owner's own spelling of the local
    part, the domain in lower case (``mail.addresses.normalise_address``), as broadcasts send it;
    text that is no address only trimmed (its send fails with the server's or Herald's reason)."""
    try:
        return normalise_address(text)
    except AddressError:
        return str(text or "").strip()


def _sends_for(email: SystemEmail, values: dict, admins: list[str]) -> list[SystemEmailSend]:
    now = utcnow()
    row = dict(email_id=email.id, event=email.event, style=email.style, customer_id=_customer_id(values),
               created_at=now, scheduled_for=now + timedelta(minutes=email.delay_minutes))
    recipients = recipients_for(email, values, admins)
    try:
        subject, body = render_subject(email.subject, values), render(email.body, values, email.style)
    except TemplateProblem as problem:  # skipped (over a bound of the sandbox) or failed: logged per recipient
        status = "skipped" if isinstance(problem, TemplateLimit) else "failed"
        reason = (f"skipped: {problem}" if status == "skipped" else str(problem))[:500]
        log.warning("system e-mail %s %s for %s: %s", email.slug, status,
                    ", ".join(address for _, address in recipients) or "no recipient", problem)
        return [SystemEmailSend(**row, status=status, reason=reason, role=role, recipient=address)
                for role, address in recipients or [("customer", "")]]
    if not recipients:
        reason = ("no recipient: the event gave no customer e-mail address"
                  if email.audience == "customer" else "no recipient: no network admin to send to")
        return [SystemEmailSend(**row, status="skipped", reason=reason)]
    return [SystemEmailSend(**row, role=role, recipient=address, subject=subject, body=body)
            for role, address in recipients]


def _customer_id(values):
    value = values.get("customer_id")
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def suppressed_addresses(addresses) -> dict:
    """{address: reason} for the addresses that bounced or complained (system e-mails skip them);
    the list is keyed in lower case, the answer by the addresses as given."""
    spellings = {}
    for address in addresses:
        if address:
            spellings.setdefault(normalise_email(address), []).append(address)
    if not spellings:
        return {}
    rows = db.session.execute(select(Suppression.email, Suppression.reason)
                              .where(Suppression.email.in_(sorted(spellings)),
                                     Suppression.reason.in_(BLOCKING_REASONS)))
    return {address: reason for key, reason in rows.all() for address in spellings[key]}


def _skip_suppressed(sends) -> None:
    blocked = suppressed_addresses(s.recipient for s in sends if s.status == "queued")
    for send in sends:
        if send.status == "queued" and send.recipient in blocked:
            send.status, send.reason = "skipped", f"suppressed: the address {blocked[send.recipient]}"


def _queue(sends) -> None:
    """Add the rows, and enqueue a delivery job per queued row once the transaction commits."""
    db.session.add_all(sends)
    db.session.flush()
    for send in sends:
        if send.status == "queued":
            queue_delivery(send)


def queue_delivery(send: SystemEmailSend, delay: timedelta | None = None) -> None:
    """Enqueue the delivery of ``send`` after the commit, at ``send.scheduled_for`` or after ``delay``."""
    if delay is None and send.scheduled_for is not None:
        delay = send.scheduled_for - utcnow()
    options = {"enqueue_in": delay} if delay is not None and delay.total_seconds() >= 1 else {}
    enqueue_after_commit(jobs.deliver_send, send.id, queue="emails", track=jobs.track(send.id), **options)
