"""Factories: real rows for users, customers, sites, products, memberships and broadcasts."""
# Each one goes through Herald's own service where there is one (customers are registered, drafts
# are created and validated, mailing is granted), so hooks and events fire as in production, and
# commits unless commit=False. Call them inside the test's app (the app fixture).
from .settings import PASSWORD

_hashes = {}


def password_hash(password: str = PASSWORD) -> str:
    """A werkzeug hash of ``password`` with few PBKDF2 rounds, computed once per password.

    ``create_user`` hashes with scrypt (0.1-0.4 s a user, and again at every login check); test
    users get this cheap hash in the same format, which ``User.check_password`` reads as usual.
    """
    if password not in _hashes:
        from werkzeug.security import generate_password_hash

        _hashes[password] = generate_password_hash(password, method="pbkdf2:sha256:1000")
    return _hashes[password]


def _done(commit: bool) -> None:
    from app.core.extensions import db

    if commit:
        db.session.commit()
    else:
        db.session.flush()


def make_user(email, password=PASSWORD, name="", super_admin=False, commit=True):
    """A User (normalised address, like ``create_user``) whose password is ``password``."""
    from app.auth.models import User
    from app.core.extensions import db
    from app.mail.addresses import normalise_address

    user = User(email=normalise_address(email), name=name, is_super_admin=super_admin,
                password_hash=password_hash(password))
    db.session.add(user)
    _done(commit)
    return user


def make_product(slug, name=None, kind="plan", mailing_by=None, commit=True):
    """A Product; ``mailing_by`` (a super admin) grants it e-mail broadcasts (``grant_mailing``)."""
    from app.broadcasts.drafts import grant_mailing
    from app.core.extensions import db
    from app.network.models import Product

    product = Product(slug=slug, name=name or slug.replace("_", " ").title(), kind=kind)
    db.session.add(product)
    if mailing_by is not None:
        grant_mailing(product, mailing_by)
    _done(commit)
    return product


def make_membership(customer, product, status="active", commit=True, **values):
    """A Membership of ``customer`` in ``product`` with ``status`` (and any other column values)."""
    from app.core.extensions import db
    from app.network.models import Membership

    membership = Membership(customer_id=customer.id, product_id=product.id, status=status, **values)
    db.session.add(membership)
    _done(commit)
    return membership


def make_customer(email, name="", product=None, status="active", login=False, commit=True):
    """A customer registered by ``register_customer`` (``customer_created`` and the registration
    e-mails fire), a member of ``product`` with ``status`` when given, with a login when ``login``
    (its address, password ``PASSWORD``)."""
    from app.network.services import register_customer

    user = make_user(email, name=name, commit=False) if login else None
    customer = register_customer(email, name, user=user)
    if product is not None:
        make_membership(customer, product, status, commit=False)
    _done(commit)
    return customer


def make_customers(emails_and_names, product=None, status="active") -> list:
    """Several customers (``[(email, name), ...]``), members of ``product``; one commit."""
    customers = [make_customer(email, name, product, status, commit=False)
                 for email, name in emails_and_names]
    _done(True)
    return customers


def make_site(customer, title, path=None, domain=None, commit=True):
    """A Site of ``customer`` (draft until published with ``publish_site``)."""
    from app.core.extensions import db
    from app.network.models import Site

    site = Site(customer_id=customer.id, title=title, path=path, domain=domain)
    db.session.add(site)
    _done(commit)
    return site


def make_broadcast(author=None, kind="email", subject="Hello {{ customer_name }}",
                   body_html="<p>Hi {{ customer_first_name }}, news for you.</p>", customers=(),
                   products=(), commit=True, **changes):
    """A draft created by ``create_draft`` and validated like the wizard's saves.

    ``customers`` and ``products`` (objects or ids) are its audience; ``changes`` are more draft
    fields (``product_statuses``, ``from_name``, ``track_opens``, ``send_at`` ...).
    """
    from app.broadcasts.drafts import create_draft

    ident = [item if isinstance(item, int) else item.id for item in customers], \
        [item if isinstance(item, int) else item.id for item in products]
    fields = {"kind": kind, "subject": subject, "body_html": body_html, **changes}
    if ident[0]:
        fields["customer_ids"] = ident[0]
    if ident[1]:
        fields["product_ids"] = ident[1]
    broadcast = create_draft(author, fields)
    _done(commit)
    return broadcast


def audit_entries(**where) -> list:
    """The audit log's entries, oldest first, whose columns equal ``where`` (``action=...``),
    read afresh from the database."""
    from app.audit.models import AuditEntry
    from app.core.extensions import db

    db.session.expire_all()
    query = db.select(AuditEntry).order_by(AuditEntry.id)
    for name, value in where.items():
        query = query.where(getattr(AuditEntry, name) == value)
    return db.session.scalars(query).all()
