"""A system e-mail's message, made by the one message builder (layout, inlined CSS, text part)."""
from email.utils import parseaddr

from flask import current_app

from ..core.content_limits import ContentLimit
from ..core.settings.services import get_option
from ..mail.builder import MessageTemplate, Recipient
from ..mail.inliner import refused_document


def sender() -> str:
    """The From header of system e-mails: the setting, else MAIL_FROM."""
    return (get_option("system_emails.mail_from") or "").strip() or current_app.config["MAIL_FROM"]


def envelope_sender(from_header: str) -> str:
    """The bare address of a From header (the SMTP MAIL FROM, RFC 5321 section 3.3)."""
    return parseaddr(from_header)[1] or from_header


def _template(subject: str, body: str, style: str, headers=(), filter_args=()) -> MessageTemplate:
    """The design of a system e-mail: its content is already rendered, so nothing in it is read as
    a placeholder; Auto-Submitted (RFC 3834) keeps vacation responders quiet."""
    name, address = parseaddr(sender())
    return MessageTemplate(subject, body, style=style, purpose="account",
                           sender=(name, address or sender()), literal=True,
                           headers=[("Auto-Submitted", "auto-generated"), *headers],
                           filter_hook="system_email_message", filter_args=filter_args)


def preview_document(subject: str, body: str, style: str) -> str:
    """What the preview frame shows: the HTML e-mail, or the plain text in a <pre>; when the
    content is past a limit of the builder, a page saying so."""
    try:
        return _template(subject, body, style).document({})
    except ContentLimit as limit:
        return refused_document(limit)


def build_message(send) -> tuple[str, str, bytes]:
    """(Message-ID, envelope sender, bytes) of one SystemEmailSend; the message passes through the
    ``system_email_message`` filter (with ``send``) when a callback is registered."""
    identity = ("X-Herald-System-Email", f"{send.email.slug}; event={send.event}; send={send.id}")
    template = _template(send.subject, send.body, send.style, [identity], (send,))
    message_id = template.message_id(f"sysemail{send.id}")
    data = template.build(Recipient(None, send.recipient), {}, message_id)
    return message_id, template.envelope_from, data
