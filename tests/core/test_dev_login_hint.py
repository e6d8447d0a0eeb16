"""``flask dev`` says how to log in as it really is, never a password or account that does not exist."""
from pathlib import Path

from flask import current_app

from app.auth.services import create_user
from app.devserver import DEV_ADMIN_EMAIL, _ensure_demo_network, _password_file, database_label, login_hint


def test_the_hint_names_only_accounts_that_exist(app, db):
    _password_file().unlink(missing_ok=True)
    assert login_hint() == "no super admin exists: create one with `flask create-admin`"
    create_user("ops@example.com", "password123", super_admin=True)
    create_user("carol@example.com", "password123")
    db.session.commit()
    assert login_hint() == ("log in as a super admin: ops@example.com (a forgotten password: "
                            "`flask users set-password EMAIL`)")
    dev_admin = create_user(DEV_ADMIN_EMAIL, "devpass123", super_admin=True)
    db.session.commit()
    _password_file().parent.mkdir(parents=True, exist_ok=True)
    _password_file().write_text("devpass123\n")
    try:
        assert login_hint() == f"log in as {DEV_ADMIN_EMAIL} / devpass123 (kept in {_password_file()})"
        dev_admin.set_password("changed since")
        db.session.commit()
        assert DEV_ADMIN_EMAIL in login_hint() and "devpass123" not in login_hint()
    finally:
        _password_file().unlink()


def test_each_database_keeps_its_own_password_file(app, db):
    """A second ``flask dev`` on another database (SQLite after PostgreSQL) overwrote the one
    instance/dev-admin-password: the first admin's generated password was then only in a log."""
    instance = Path(current_app.instance_path)
    instance.mkdir(parents=True, exist_ok=True)
    others = [instance / "dev-admin-password", instance / "dev-admin-password.postgresql-127.0.0.1-5432-herald"]
    for other in others:
        other.write_text("the other database's admin\n")
    _ensure_demo_network()
    for other in others:
        assert other.read_text() == "the other database's admin\n"
    password = _password_file().read_text().strip()
    assert _password_file().name == f"dev-admin-password.{database_label(db.engine.url)}"
    assert login_hint() == f"log in as {DEV_ADMIN_EMAIL} / {password} (kept in {_password_file()})"
    assert database_label("postgresql://alice:secret@127.0.0.1:5432/herald") == "postgresql-127.0.0.1-5432-herald"
    assert database_label(f"sqlite:///{instance / 'herald.db'}") == "sqlite-herald.db"
