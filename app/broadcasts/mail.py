"""Broadcast e-mails: one broadcast's message design and per-recipient values, test sends, previews.

Real sends (the delivery engine), test sends and previews all go through ``BroadcastMessages``,
built on the one message builder (``app.mail.builder``), so a test e-mail is what recipients get
but for its ``[TEST]`` subject prefix, its identifying header and its own unsubscribe link.
"""
import re
from dataclasses import dataclass
from email.utils import parseaddr
from types import SimpleNamespace

from flask import current_app

from ..audit.services import record
from ..core.extensions import db
from ..core.hooks import apply_filters, registry
from ..core.utils import normalise_email
from ..mail.addresses import AddressError, normalise_address
from ..core.content_limits import ContentLimit
from ..mail.builder import MessageTemplate, OutgoingMessage, Recipient, network_name
from ..mail.inliner import refused_document
from ..mail.placeholders import placeholders_in
from ..mail.tokens import UnsubscribeLinks
from ..mail.transport import DeliveryError, make_transport
from ..mail.verp import return_paths
from ..network.models import Customer
from .content import recipient_values
from .rendering import SAMPLE, first_site_url

MAX_TEST_ADDRESSES = 10
TEST_PREFIX = "[TEST] "
_DESIGN_FIELDS = ("id", "subject", "body_html", "from_name", "reply_to", "track_opens", "track_clicks")


class BroadcastMessages:
    """The messages of one broadcast: its design prepared once (per chunk of run ``run_id``, or
    once for a test send when ``test``), then ``build(recipient)`` per recipient."""

    def __init__(self, broadcast, run_id: int | None = None, test: bool = False):
        name, address = parseaddr(current_app.config["MAIL_FROM"])
        body = broadcast.body_html or ""
        has_link = "unsubscribe_url" in placeholders_in(body)
        if test:
            identity = ("X-Herald-Test", f"broadcast {broadcast.id}")
        else:
            identity = ("X-Herald-Broadcast-Run", f"{run_id}; broadcast={broadcast.id}")
        tracked = not test and (broadcast.track_opens or broadcast.track_clicks)
        self.template = MessageTemplate(
            broadcast.subject or "", body, subject_prefix=TEST_PREFIX if test else "",
            sender=(broadcast.from_name or name, address), reply_to=broadcast.reply_to,
            headers=[identity], bulk=True, footer_link=None if has_link else "{{ unsubscribe_url }}",
            tracking=self._tracking(run_id, broadcast) if tracked else None, run_id=run_id)
        self.run_id, self.test = run_id, test
        self.return_paths = None if test else return_paths()  # VERP, when RETURN_PATH_DOMAIN is set
        self.unsubscribe_links = UnsubscribeLinks()
        self.network_name = network_name()
        self.needs_site = "site_url" in placeholders_in((broadcast.subject or "") + body)
        self.filtered = registry().has("broadcast_placeholder_values")

    @staticmethod
    def _tracking(run_id, broadcast):
        def track(html, mask):  # the tracking domain answers through the ``broadcast_tracking`` filter
            return apply_filters("broadcast_tracking", None, html, run_id,
                                 bool(broadcast.track_opens), bool(broadcast.track_clicks), mask)
        return track

    def values(self, recipient: Recipient, https: str) -> dict:
        """The placeholder values of ``recipient`` (plugins' ones included, through
        ``broadcast_placeholder_values``, which then costs one customer lookup per message)."""
        values = recipient_values(recipient.customer_id, recipient.email, recipient.name,
                                  recipient.site_url, https, self.network_name)
        if self.filtered:
            customer = db.session.get(Customer, recipient.customer_id) if recipient.customer_id else None
            values = apply_filters("broadcast_placeholder_values", values, customer)
        return values

    def _arguments(self, recipient: Recipient) -> tuple:
        https, mailto = self.unsubscribe_links(recipient.email, self.run_id)
        message_id = self.template.message_id(None if self.test else recipient.delivery_id)
        return recipient, self.values(recipient, https), message_id, (https, mailto)

    def return_path(self, recipient: Recipient) -> str:
        """The envelope sender of ``recipient``'s message: its delivery's VERP address (docs/
        bounces.md) when a return-path domain is set and it has a delivery, else the sender's."""
        if self.return_paths is None or recipient.delivery_id is None:
            return self.template.envelope_from
        return self.return_paths(recipient.delivery_id)

    def build(self, recipient: Recipient) -> tuple[str, str, bytes]:
        """(Message-ID, envelope sender, message bytes) of ``recipient``'s message; a
        ``delivery_message`` callback may change the envelope sender."""
        arguments = self._arguments(recipient)
        if self.template.filtered:
            message = self.template.compose(*arguments, envelope_from=self.return_path(recipient))
            return arguments[2], message.envelope_from, self.template.to_bytes(message)
        return arguments[2], self.return_path(recipient), self.template.build(*arguments)

    def compose(self, recipient: Recipient) -> OutgoingMessage:
        """``recipient``'s message before it becomes bytes (``template.to_bytes`` makes them)."""
        return self.template.compose(*self._arguments(recipient),
                                     envelope_from=self.return_path(recipient))

    def document(self, recipient: Recipient, unsubscribe_url: str = "#unsubscribe") -> str:
        """The HTML a preview shows for ``recipient`` (CSS inlined, placeholders filled)."""
        return self.template.document(self.values(recipient, unsubscribe_url))


def recipient_of(customer, address: str | None = None) -> Recipient:
    """A Recipient for ``customer`` (None: a sample person) at ``address`` (default: theirs);
    the display name is the customer's only when the address is their own."""
    if customer is None:
        return Recipient(None, address or SAMPLE["email"], None, SAMPLE["name"], current_app.config["BASE_URL"])
    own = address is None or normalise_email(address) == normalise_email(customer.email)  # by the key
    return Recipient(None, address or customer.email, customer.id, customer.name,
                     first_site_url(customer.id), None if own else "")


def email_document(broadcast, customer=None, **changes) -> str:
    """The whole HTML e-mail of ``broadcast`` for ``customer`` as previews show it; ``changes``
    (e.g. ``subject``, ``body_html`` typed but not saved) override the broadcast's fields."""
    fields = {name: getattr(broadcast, name) for name in _DESIGN_FIELDS}
    draft = SimpleNamespace(**{**fields, **changes})
    try:
        return BroadcastMessages(draft, test=True).document(recipient_of(customer))
    except ContentLimit as limit:  # content stored before a limit existed: the page still shows
        return refused_document(limit)


def parse_addresses(text: str) -> list[str]:
    """Test addresses typed by an admin (comma, space or line separated); ValueError when wrong."""
    raw = [part for part in re.split(r"[\s,;]+", text or "") if part]
    if not raw:
        raise ValueError("Enter at least one e-mail address.")
    if len(raw) > MAX_TEST_ADDRESSES:
        raise ValueError(f"At most {MAX_TEST_ADDRESSES} test addresses at once.")
    addresses = []
    for item in raw:
        try:
            addresses.append(normalise_address(item))
        except AddressError as error:
            raise ValueError(str(error)) from None
    return addresses


@dataclass(frozen=True)
class TestResult:
    """How the test send to one address went."""
    address: str
    ok: bool
    reply: str


def send_test(broadcast, addresses: list[str], customer=None) -> list[TestResult]:
    """Send ``broadcast`` as ``customer`` would get it to each test address, subject ``[TEST] …``.

    Test sends are not runs and are counted nowhere; they carry no tracking. The unsubscribe link
    in a test message is the test address's own, so clicking it cannot unsubscribe the customer.
    Adds a ``broadcast.test_sent`` audit entry (the message may carry the customer's data); the
    caller commits.
    """
    record("broadcast.test_sent", broadcast, f"to {', '.join(addresses)} as customer "
           f"#{customer.id if customer is not None else '-'}")
    try:
        transport = make_transport(current_app.config["SMTP_URL"])
    except ValueError as error:
        return [TestResult(address, False, str(error)) for address in addresses]
    messages, results = BroadcastMessages(broadcast, test=True), []
    try:
        for address in addresses:
            _, envelope_from, data = messages.build(recipient_of(customer, address))
            try:
                results.append(TestResult(address, True, transport.send(data, envelope_from, address).reply))
            except DeliveryError as error:
                results.append(TestResult(address, False, str(error)))
    finally:
        transport.close()
    return results
