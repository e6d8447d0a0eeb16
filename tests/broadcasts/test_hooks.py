"""The broadcasts hooks: placeholders a plugin adds, and the actions fired on the way."""
import pytest

from app.broadcasts.drafts import DraftError, create_draft, update_draft
from app.broadcasts.rendering import render_broadcast
from app.broadcasts.sending import cancel, send_now
from app.core.extensions import db
from app.core.hooks import add_action, add_filter, registry


def test_all_broadcast_hooks_are_declared_with_docs(app):
    specs = {name: spec for name, spec in registry().specs.items() if spec.domain == "broadcasts"}
    assert {"broadcast_created", "broadcast_sent", "broadcast_scheduled", "broadcast_cancelled",
            "broadcast_placeholders", "broadcast_placeholder_values", "notice_dismissed",
            "broadcast_detail_panels"} <= set(specs)
    assert all("Arguments" in spec.doc or "Value" in spec.doc for spec in specs.values())


def test_a_plugin_placeholder_becomes_valid_and_is_filled(network):
    draft = create_draft(network.admin, {"kind": "notice"})
    with pytest.raises(DraftError, match="plan_name"):
        update_draft(draft, {"body_html": "<p>Plan: {{ plan_name }}</p>"})
    add_filter("broadcast_placeholders", lambda known: {**known, "plan_name": "The customer's plan"})
    add_filter("broadcast_placeholder_values", lambda values, customer: {
        **values, "plan_name": "Gold" if customer is not None else "Sample plan"})
    update_draft(draft, {"body_html": "<p>Plan: {{ plan_name }}</p>", "subject": "{{ plan_name }}"})
    assert render_broadcast(draft, network.ann).html == "<p>Plan: Gold</p>"
    assert render_broadcast(draft, None).subject == "Sample plan"


def test_created_sent_and_cancelled_actions_fire(network):
    seen = []
    add_action("broadcast_created", lambda b: seen.append(("created", b.id)))
    add_action("broadcast_sent", lambda b, run: seen.append(("sent", run.status)))
    add_action("broadcast_cancelled", lambda b, previous: seen.append(("cancelled", previous)))
    broadcast = create_draft(network.admin, {"kind": "notice", "subject": "S", "body_html": "<p>B</p>",
                                             "customer_ids": [network.ann.id]})
    send_now(broadcast)
    cancel(broadcast)
    db.session.commit()
    assert seen == [("created", broadcast.id), ("sent", "published"), ("cancelled", "sent")]


def test_detail_panels_filter_adds_a_section(boss, network):
    broadcast = create_draft(network.admin, {"kind": "email", "subject": "Report me"})
    db.session.commit()
    add_filter("broadcast_detail_panels", lambda panels, b: [*panels, ("Opens", f"{b.id} opened")])
    page = boss.get(f"/network/broadcasts/{broadcast.id}").get_data(as_text=True)
    assert "<h2>Opens</h2>" in page and f"{broadcast.id} opened" in page
