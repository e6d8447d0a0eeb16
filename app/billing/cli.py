"""``flask payments record``: record a payment from the command line."""
import click
from flask.cli import AppGroup

from ..core.cli import ROW_ID
from ..core.extensions import db
from .models import PAYMENT_KINDS, PAYMENT_STATUSES
from .services import PaymentError, record_payment

payments_cli = AppGroup("payments", help="Record payments (they fire the payment system e-mails).")


@payments_cli.command("record")
@click.option("--customer", required=True, help="Customer number or e-mail address.")
@click.option("--amount", required=True, help="Amount, e.g. 19.99.")
@click.option("--currency", default="EUR", show_default=True)
@click.option("--status", type=click.Choice(PAYMENT_STATUSES), default="paid", show_default=True)
@click.option("--kind", type=click.Choice(PAYMENT_KINDS), default="payment", show_default=True)
@click.option("--reference", default="")
@click.option("--membership", "membership_id", type=ROW_ID, default=None, help="Membership number.")
def record_command(customer, amount, currency, status, kind, reference, membership_id):
    """Record a payment of CUSTOMER."""
    try:
        payment = record_payment(customer, amount, currency, status, kind, reference,
                                 membership_id)
    except PaymentError as error:
        raise click.ClickException(str(error))
    db.session.commit()
    click.echo(f"Payment #{payment.id}: {payment.amount} {payment.currency} {payment.status}.")
