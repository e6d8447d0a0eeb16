"""``flask api-keys``: issue, list and revoke API keys for scripts and deployments."""
import click
from flask.cli import AppGroup

from ..auth.models import User
from ..core.cli import ROW_ID, echo_safe, fetch_or_fail
from ..core.extensions import db
from .keys import ApiKeyError, issue_key, keys_of, revoke
from .models import ApiKey

api_keys_cli = AppGroup("api-keys", help="Issue, list and revoke API keys.")


def _user(email) -> User:
    user = User.find_by_email(email)
    if user is None:
        raise click.ClickException(f"There is no user {email}.")
    return user


@api_keys_cli.command("create")
@click.option("--user", "email", required=True, help="E-mail address of a super admin.")
@click.option("--name", default="CLI", show_default=True, help="What the key is for.")
def create_command(email, name):
    """Issue a key for a super admin and print it (it is shown only this once)."""
    try:
        key, secret = issue_key(_user(email), name)
    except ApiKeyError as error:
        raise click.ClickException(str(error)) from None
    db.session.commit()
    click.echo(secret)
    echo_safe(f"Key {key.id} ({key.name}) for {email}: store it now, it cannot be shown again.", err=True)


@api_keys_cli.command("list")
@click.option("--user", "email", required=True, help="E-mail address of the user.")
def list_command(email):
    """List a user's keys (prefix, name, state)."""
    for key in keys_of(_user(email)):
        state = "active" if key.active else f"revoked {key.revoked_at:%Y-%m-%d}"
        echo_safe(f"{key.id:>5}  {key.prefix}…  {state:20}  {key.name}")


@api_keys_cli.command("revoke")
@click.argument("key_id", type=ROW_ID)
def revoke_command(key_id):
    """Revoke key KEY_ID at once."""
    key = fetch_or_fail(ApiKey, key_id, "API key")
    revoke(key)
    db.session.commit()
    click.echo(f"Key {key.id} ({key.prefix}…) revoked.")
