"""Hooks of the broadcasts domain: drafts, sends, notices and placeholders."""
from ..registry import HookSpec
from ..shapes import PANELS, PROBLEMS, STR_DICT, TRACKING, VALUES

broadcast_created = HookSpec("broadcast_created", "action", """A broadcast draft was created
(in the wizard, by the API, or as a duplicate).

Arguments: ``broadcast`` (Broadcast, flushed, has an id). Returns nothing.""")

broadcast_scheduled = HookSpec("broadcast_scheduled", "action", """A draft was scheduled to be
sent later: once (its ``send_at`` is set, in UTC) or on a recurring schedule.

Arguments: ``broadcast`` (Broadcast). Returns nothing. Runs before the commit.""")

broadcast_sent = HookSpec("broadcast_sent", "action", """A run of a broadcast started: an e-mail
run was handed to the delivery queue, or a notice run was published on the dashboards.

Arguments: ``broadcast`` (Broadcast), ``run`` (BroadcastRun, flushed). Returns nothing. Runs
inside the transaction that creates the run (jobs enqueued here go out after its commit).""")

broadcast_cancelled = HookSpec("broadcast_cancelled", "action", """A broadcast was cancelled: a
draft or schedule will not be sent, a notice is taken off the dashboards, an unfinished
e-mail run stops.

Arguments: ``broadcast`` (Broadcast), ``previous_status`` (str). Returns nothing.""")

broadcast_placeholders = HookSpec("broadcast_placeholders", "filter", """Filters the
placeholders that broadcast subjects and bodies may use.

Value: a dict ``{name: description}`` (``customer_name``, ``site_url``, ...). Returns the dict;
a name added here stops being an "unknown placeholder" error. Give it a value with
``broadcast_placeholder_values``.""", shape=STR_DICT)

broadcast_placeholder_values = HookSpec("broadcast_placeholder_values", "filter", """Filters
the placeholder values of one customer before a broadcast is rendered for them: dashboard
notices (once per customer and page, not per notice), previews, test sends and every e-mail of a
run (once per message: it costs the send loop one customer lookup per message).

Value: a dict ``{name: str}``; argument: ``customer`` (Customer, or None for a sample).
Returns the dict. Values are HTML-escaped when filled into HTML.""", shape=VALUES)

broadcast_tracking = HookSpec("broadcast_tracking", "filter", """Filters the open and click
tracking of a run's e-mail, asked once per chunk by the message builder (the tracking domain
answers it).

Value: None, or an object with ``html`` (str: the e-mail's HTML, links rewritten, pixel added,
placeholders still words of ``mask``) and ``values(delivery_id, values) -> dict`` (extra
placeholder values of one message). Arguments: ``html`` (str: the inlined HTML, each placeholder
hidden as a word of ``mask``), ``run_id`` (int), ``opens`` (bool), ``clicks`` (bool), ``mask``
(``app.mail.masking.Mask``: ``restore``, ``compile`` a piece, ``word(Placeholder.named(name))``
adds a placeholder). Returns the value or a replacement.""", shape=TRACKING)

broadcast_run_cancelled = HookSpec("broadcast_run_cancelled", "action", """A run was cancelled
(by the broadcast's Cancel, or on its own from the run page, the API or the CLI); the delivery
engine skips its e-mails not yet sent here.

Arguments: ``run`` (BroadcastRun, now ``cancelled``), ``previous`` (str, its former status).
Returns nothing. Runs inside the caller's transaction; never commit here.""")

notice_dismissed = HookSpec("notice_dismissed", "action", """A user dismissed a notice on
their dashboard.

Arguments: ``user`` (User), ``run_id`` (int, the notice run). Returns nothing.""")

broadcast_detail_panels = HookSpec("broadcast_detail_panels", "filter", """Filters extra
panels on a broadcast's admin page (reports, logs, statistics).

Value: a list of ``(title, html)`` tuples, ``html`` being Markup; argument: ``broadcast``.
Returns the list.""", shape=PANELS)

broadcast_readiness = HookSpec("broadcast_readiness", "filter", """Filters what stops a draft from
being sent or scheduled.

Value: a list of ``Problem(step, message)`` (``app.broadcasts.sending``); argument: ``broadcast``.
Returns the list (empty: ready).""", shape=PROBLEMS)

broadcast_unscheduled = HookSpec("broadcast_unscheduled", "action", """A scheduled broadcast went
back to being a draft (to be edited).

Arguments: ``broadcast`` (Broadcast). Returns nothing. Runs before the commit.""")
