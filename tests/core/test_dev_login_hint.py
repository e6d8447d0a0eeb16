"""``flask dev`` says how to log in as it really is, never a password or account that does not exist."""
from app.auth.services import create_user
from app.devserver import DEV_ADMIN_EMAIL, _password_file, login_hint


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
        assert login_hint() == f"log in as {DEV_ADMIN_EMAIL} / devpass123"
        dev_admin.set_password("changed since")
        db.session.commit()
        assert DEV_ADMIN_EMAIL in login_hint() and "devpass123" not in login_hint()
    finally:
        _password_file().unlink()
