"""The hook registry keeps WordPress's semantics: priorities, order, removal, filters."""
import warnings

import pytest

from app.core.hooks.registry import HookRegistry, HookSpec, UnknownHookWarning


@pytest.fixture
def hooks():
    registry = HookRegistry()
    registry.declare(HookSpec("ping", "action", "test action"))
    registry.declare(HookSpec("title", "filter", "test filter"))
    return registry


def test_lower_priority_runs_first_and_ties_keep_registration_order(hooks):
    calls = []
    hooks.add("ping", lambda: calls.append("late"), 20)
    hooks.add("ping", lambda: calls.append("first-10"))
    hooks.add("ping", lambda: calls.append("early"), 5)
    hooks.add("ping", lambda: calls.append("second-10"))
    hooks.do_action("ping")
    assert calls == ["early", "first-10", "second-10", "late"]


def test_filters_thread_the_value_and_actions_ignore_returns(hooks):
    hooks.add("title", lambda value, n: value * n)
    hooks.add("title", lambda value, n: value + "!", 20)
    assert hooks.apply_filters("title", "ab", 2) == "abab!"
    hooks.add("ping", lambda: "ignored")
    assert hooks.do_action("ping") is None


def test_remove_action_with_and_without_priority(hooks):
    calls = []

    def callback():
        calls.append(1)

    hooks.add("ping", callback, 5)
    hooks.add("ping", callback, 15)
    assert hooks.remove("ping", callback, priority=5)
    hooks.do_action("ping")
    assert calls == [1]
    assert hooks.remove("ping", callback)
    assert not hooks.remove("ping", callback)
    hooks.do_action("ping")
    assert calls == [1]


def test_unknown_hook_name_warns(hooks):
    with pytest.warns(UnknownHookWarning, match="nosuchhook"):
        hooks.add("nosuchhook", lambda: None)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        hooks.add("ping", lambda: None)  # declared: no warning


def test_inactive_plugin_callbacks_are_skipped_at_call_time(hooks):
    active = {"alpha"}
    hooks.is_active = lambda slug: slug in active
    calls = []
    hooks.add("ping", lambda: calls.append("core"))
    hooks.add("ping", lambda: calls.append("alpha"), plugin="alpha")
    hooks.add("ping", lambda: calls.append("beta"), plugin="beta")
    hooks.do_action("ping")
    active.discard("alpha")
    hooks.do_action("ping")
    assert calls == ["core", "alpha", "core"]


def test_priority_must_be_an_integer(hooks):
    with pytest.raises(TypeError):
        hooks.add("ping", lambda: None, "high")


def test_core_catalogue_documents_every_hook(app):
    registry = app.extensions["herald_hooks"]
    assert {"admin_menu", "customer_created", "plugin_activated", "mail_transports"} <= set(registry.specs)
    for spec in registry.specs.values():
        assert spec.kind in ("action", "filter")
        assert "Argument" in spec.doc or "Value" in spec.doc, spec.name


def test_a_plugin_callback_that_raises_is_contained_and_reported(hooks):
    from app.core.hooks.guard import PluginGuard

    reported = []
    hooks.guard = PluginGuard(report=reported.append)
    calls = []
    hooks.add("ping", lambda: calls.append("before"), 5)
    hooks.add("ping", lambda: 1 / 0, plugin="alpha")
    hooks.add("ping", lambda: calls.append("after"), 15)
    hooks.add("title", lambda value: value + "-core")
    hooks.add("title", lambda value: value.nope(), 20, plugin="alpha")
    hooks.add("title", lambda value: value + "-beta", 30, plugin="beta")
    hooks.do_action("ping")
    assert calls == ["before", "after"]  # the broken action is skipped, the next still runs
    assert hooks.apply_filters("title", "x") == "x-core-beta"  # its input passes through
    assert [(f.slug, f.where, type(f.error).__name__) for f in reported] == [
        ("alpha", "ping", "ZeroDivisionError"), ("alpha", "title", "AttributeError")]
    assert "ZeroDivisionError" in reported[0].traceback and reported[0].summary.startswith("Zero")


def test_core_callbacks_still_raise_and_http_errors_pass_through(hooks):
    from werkzeug.exceptions import Forbidden

    hooks.add("ping", lambda: 1 / 0)
    with pytest.raises(ZeroDivisionError):
        hooks.do_action("ping")

    def forbid(value):
        raise Forbidden("not for you")

    hooks.add("title", forbid, plugin="alpha")  # abort(403) in a plugin is not a fault
    with pytest.raises(Forbidden):
        hooks.apply_filters("title", "x")


def test_a_failing_reporter_never_breaks_the_caller(hooks):
    from app.core.hooks.guard import PluginGuard

    def broken_report(fault):
        raise ConnectionError("redis is down")

    hooks.guard = PluginGuard(report=broken_report)
    hooks.add("title", lambda value: 1 / 0, plugin="alpha")
    assert hooks.apply_filters("title", "x") == "x"
