"""Hooks of the application shell: start-up, the admin menu and the page layout."""
from ..registry import HookSpec

app_ready = HookSpec("app_ready", "action", """Fired once when create_app() has finished.

Arguments: ``app`` (the Flask app). Returns nothing.""")

admin_menu = HookSpec("admin_menu", "filter", """Filters the network admin's navigation.

Value: a list of ``MenuItem`` (label, endpoint, order, icon). Returns the list to show;
items whose endpoint does not exist are dropped after filtering.""")

dashboard_menu = HookSpec("dashboard_menu", "filter", """Filters the customer dashboard's navigation.

Value: a list of ``MenuItem``. Returns the list to show.""")

network_dashboard_panels = HookSpec("network_dashboard_panels", "filter", """Filters the panels
shown on the network admin's dashboard.

Value: a list of ``(title, html)`` tuples, ``html`` being Markup. Returns the list.""")

customer_dashboard_panels = HookSpec("customer_dashboard_panels", "filter", """Filters the panels
on a customer's dashboard.

Value: a list of ``(title, html)``; argument: ``customer``. Returns the list. Each panel is shown
in a card under its title, as on the network dashboard; a panel with an empty title is shown as
it is (the core's notices banner is one).""")

worker_starting = HookSpec("worker_starting", "action", """An RQ worker is about to start working.

Arguments: ``worker`` (rq.Worker), ``with_scheduler`` (bool: started with --with-scheduler).
Returns nothing. The scheduling domain starts its scheduler thread here.""")

event_occurred = HookSpec("event_occurred", "action", """Something happened on the network that
may deserve an e-mail: announced with ``app.core.events.announce(slug, customer, **payload)`` by
the domain where it happened (network: ``customer_registered``, ``email_confirmation``,
``membership_expired``, ``site_published``; billing: ``payment_received``, ``payment_failed``,
``renewal_payment_created``). The system e-mails domain queues the event's e-mails here.

Arguments: ``slug`` (str), ``customer`` (Customer or None), ``payload`` (dict of the event's
values). Returns nothing. Runs inside the caller's transaction; never commit here.""")

supervisor_tasks = HookSpec("supervisor_tasks", "filter", """Filters the repairs the supervisor
makes every ``SUPERVISOR_SECONDS`` in one worker at a time (``app/core/supervisor.py``): work left
by a dead job, lost from Redis, or failed for a transient reason is moved on from the database.

Value: a list of callables taking no argument; each returns a list of steps (callables taking no
argument), e.g. one per run to check. The supervisor calls each step and commits after it, or
rolls it back and logs when it raises, then goes on with the next step; neither the callables nor
the steps commit. Returns the list.""")
