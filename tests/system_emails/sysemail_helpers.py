"""Helpers of the system-email tests: reading installed e-mails and their sends fresh."""
from sqlalchemy import select

from app.core.extensions import db
from app.system_emails.models import SystemEmail, SystemEmailSend


def email(slug):
    """The installed SystemEmail ``slug``."""
    return db.session.scalar(select(SystemEmail).where(SystemEmail.slug == slug))


def sends(slug=None):
    """Every SystemEmailSend (of e-mail ``slug``), oldest first, read fresh from the database."""
    db.session.expire_all()
    query = select(SystemEmailSend).order_by(SystemEmailSend.id)
    if slug:
        query = query.join(SystemEmail).where(SystemEmail.slug == slug)
    return db.session.scalars(query).all()
