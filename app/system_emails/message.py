"""Turning a rendered system e-mail into a MIME message: layout, inlined CSS, text alternative."""
from email.message import EmailMessage
from email.utils import formatdate, make_msgid, parseaddr

import css_inline
import html2text
from flask import current_app, render_template
from markupsafe import Markup, escape

from ..core.hooks import apply_filters
from ..core.settings.services import get_option

LAYOUT = "system_emails/mail/layout.html"


def sender() -> str:
    """The From header of system e-mails: the setting, else MAIL_FROM."""
    return (get_option("system_emails.mail_from") or "").strip() or current_app.config["MAIL_FROM"]


def envelope_sender(from_header: str) -> str:
    """The bare address of a From header (the SMTP MAIL FROM)."""
    return parseaddr(from_header)[1] or from_header


def html_document(subject: str, body: str) -> str:
    """The full HTML of an HTML e-mail: the body in the mail layout, CSS inlined."""
    page = render_template(LAYOUT, subject=subject, body=Markup(body),
                           network_name=get_option("network.name") or "Herald Network")
    return css_inline.inline(page)


def text_version(body_html: str) -> str:
    """A plain-text alternative of an HTML body (links kept as URLs)."""
    converter = html2text.HTML2Text()
    converter.body_width = 0
    converter.ignore_images = True
    return converter.handle(body_html).strip() + "\n"


def preview_document(subject: str, body: str, style: str) -> str:
    """What the preview frame shows: the HTML e-mail, or the plain text in a <pre>."""
    if style == "html":
        return html_document(subject, body)
    return ("<!doctype html><meta charset='utf-8'><pre style=\"white-space:pre-wrap;"
            f"font:14px/1.5 ui-monospace,monospace;margin:1rem\">{escape(body)}</pre>")


def build_message(send) -> EmailMessage:
    """The message for one SystemEmailSend (filtered through ``system_email_message``)."""
    from_header = sender()
    message = EmailMessage()
    message["Subject"] = send.subject
    message["From"] = from_header
    message["To"] = send.recipient
    message["Date"] = formatdate(usegmt=True)
    domain = envelope_sender(from_header).rpartition("@")[2] or "herald.localhost"
    message["Message-ID"] = make_msgid("sysemail", domain=domain)
    message["Auto-Submitted"] = "auto-generated"  # RFC 3834: no vacation auto-replies
    message["X-Herald-System-Email"] = f"{send.email.slug}; event={send.event}; send={send.id}"
    if send.style == "html":
        message.set_content(text_version(send.body))
        message.add_alternative(html_document(send.subject, send.body), subtype="html")
    else:
        message.set_content(send.body)
    return apply_filters("system_email_message", message, send)
