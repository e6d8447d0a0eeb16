"""CPU per plugin filter call at the guard on the per-message hooks: the shape check and the copy.

``python -m bench.plugin_guard [-n 200000]`` calls one do-nothing plugin callback through
``PluginGuard.filter`` on the values the send loop filters per message (``delivery_message``: an
OutgoingMessage with 12 headers; ``broadcast_placeholder_values``: a dict of 8 values;
``track_link``: a bool, per link), three ways: without a shape (the guard before issue 16's
shapes), with the shape's check only, and with the check and the copy (what runs now). No app
context, so no SAVEPOINT scope: only the guard's own cost is measured. Prints microseconds of CPU
(``time.process_time``) per call.
"""
import argparse
import dataclasses
import time
from types import SimpleNamespace

from app.core.hooks.guard import PluginGuard
from app.core.hooks.shapes import BOOL, MESSAGE, VALUES
from app.mail.builder import OutgoingMessage

MESSAGE_VALUE = OutgoingMessage(SimpleNamespace(email="a@example.com"), 1, "bounce@example.com",
                                [(f"X-Header-{i}", "value") for i in range(12)], "text " * 200,
                                "<p>html</p>" * 200)
CASES = {"delivery_message": (MESSAGE, MESSAGE_VALUE),
         "broadcast_placeholder_values": (VALUES, {f"key_{i}": "value" for i in range(8)}),
         "track_link": (BOOL, True)}


def _per_call(guard, hook, shape, value, count) -> float:
    def passes(given, *args):
        return given
    started = time.process_time()
    for _ in range(count):
        guard.filter("bench", hook, passes, value, (), {}, shape)
    return (time.process_time() - started) / count * 1e6


def measure(count: int) -> dict:
    """{hook: {"none": us, "check": us, "check_and_copy": us}} per call."""
    guard = PluginGuard()
    results = {}
    for hook, (shape, value) in CASES.items():
        check_only = dataclasses.replace(shape, copy=None)
        results[hook] = {"none": round(_per_call(guard, hook, None, value, count), 3),
                         "check": round(_per_call(guard, hook, check_only, value, count), 3),
                         "check_and_copy": round(_per_call(guard, hook, shape, value, count), 3)}
    return results


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", type=int, default=200_000, help="calls per case")
    for hook, figures in measure(parser.parse_args().n).items():
        print(f"{hook:30} " + "  ".join(f"{k}: {v:.3f} us" for k, v in figures.items()))


if __name__ == "__main__":
    main()
