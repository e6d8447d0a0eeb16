"""``flask users set-password|set-role`` and ``flask auth unthrottle``: operators' way to change
a password or a role (each rotates the user's session token) and to clear a login throttle."""
import click
from flask.cli import AppGroup

from ..audit.services import record
from ..core.cli import echo_safe
from ..core.extensions import db
from .models import User
from .services import set_password, set_role
from .throttle import clear_account

users_cli = AppGroup("users", help="Change a user's password or role (every session of the user ends).")
auth_cli = AppGroup("auth", help="Login throttle: clear an account's counters.")


def _user(email: str) -> User:
    user = User.find_by_email(email)
    if user is None:
        raise click.ClickException("No user has this e-mail address.")
    return user


@users_cli.command("set-password")
@click.argument("email")
@click.option("--password", prompt="New password", hide_input=True, confirmation_prompt=True,
              help="Asked for (hidden) when not given.")
def set_password_command(email, password):
    """Give EMAIL's user a new password; every session and device cookie of the user ends."""
    user = _user(email)
    try:
        set_password(user, password, "password set with flask users set-password")
    except ValueError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    echo_safe(f"Password of {user.email} changed; every session of the user is logged out.")


@users_cli.command("set-role")
@click.argument("email")
@click.option("--super-admin/--no-super-admin", required=True, help="Network super admin or not.")
def set_role_command(email, super_admin):
    """Make EMAIL's user a network super admin or not; a change logs the user out everywhere."""
    user = _user(email)
    role = "a network super admin" if super_admin else "not a super admin"
    try:
        changed = set_role(user, super_admin)
    except ValueError as error:
        raise click.ClickException(str(error))
    if not changed:
        echo_safe(f"{user.email} is already {role}; nothing changed.")
        return
    db.session.commit()
    echo_safe(f"{user.email} is now {role}; every session of the user is logged out.")


@auth_cli.command("unthrottle")
@click.argument("email")
def unthrottle_command(email):
    """Clear the login throttle of the account EMAIL (its ceiling over all addresses and each
    client's counters on it), e.g. after an attack spread over many addresses."""
    removed = clear_account(email)
    record("login_throttle.cleared", ("account", None, email[:200]), f"{removed} counter(s) cleared")
    db.session.commit()
    echo_safe(f"Login throttle of {email} cleared ({removed} counter(s)).")
