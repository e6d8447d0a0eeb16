"""The guard at the plugin boundary: a plugin's exception is logged, reported and contained."""
import logging
import signal
import time
import traceback
from collections.abc import Callable

from rq.timeouts import JobTimeoutException
from werkzeug.exceptions import HTTPException

log = logging.getLogger("app.plugins")

TRACEBACK_LIMIT = 20_000


class IsolationError(RuntimeError):
    """The caller's own work could not be set aside before plugin code ran (for example its
    pending rows failed to flush): the caller's error, never counted against the plugin."""


# Not faults: an HTTP error a plugin raises on purpose (abort(403)), RQ's job timeout, which
# must reach the worker so it can stop the job, and an error of the caller's own work.
PASS_THROUGH = (HTTPException, JobTimeoutException, IsolationError)


def is_fault(error: BaseException) -> bool:
    """True when ``error``, raised while plugin code ran, is that plugin's fault.

    Every exception but ``PASS_THROUGH`` is; so are the other ``BaseException``s plugin code can
    raise (``sys.exit()``: SystemExit, GeneratorExit ...), except KeyboardInterrupt and a
    SystemExit raised by the process's own signal handler (a worker or gunicorn told to stop
    while the callback ran): those stop the process as they would anywhere else."""
    if isinstance(error, (*PASS_THROUGH, KeyboardInterrupt)):
        return False
    if isinstance(error, SystemExit):
        return not _from_signal_handler(error)
    return True


def _from_signal_handler(error: BaseException) -> bool:
    """True when the innermost frame of ``error``'s traceback is a Python signal handler."""
    tb = error.__traceback__
    while tb is not None and tb.tb_next is not None:
        tb = tb.tb_next
    if tb is None:
        return False
    codes = set()
    for number in signal.valid_signals():
        try:
            handler = signal.getsignal(number)
        except (ValueError, OSError):
            continue
        code = getattr(getattr(handler, "__func__", handler), "__code__", None)
        if code is not None:
            codes.add(code)
    return tb.tb_frame.f_code in codes


class NoScope:
    """The isolation scope when none is configured: plugin work is neither kept nor undone."""

    def keep(self) -> None:
        """Nothing to keep."""

    def undo(self) -> None:
        """Nothing to undo."""


class PluginFault(Exception):
    """Plugin code raised.

    ``slug`` is the plugin, ``where`` the hook or lifecycle step (``activate``, ``admin_menu``,
    ``view plugin_x.index`` ...), ``error`` the original exception and ``traceback`` its text.
    """

    def __init__(self, slug: str, where: str, error: BaseException, trace: str):
        super().__init__(slug, where, error)
        self.slug, self.where, self.error = slug, where, error
        self.traceback = trace[-TRACEBACK_LIMIT:]

    @property
    def summary(self) -> str:
        """One line: the exception's type and message."""
        text = str(self.error).strip().splitlines()
        return f"{type(self.error).__name__}: {text[0]}" if text else type(self.error).__name__

    def __str__(self) -> str:
        return f"plugin {self.slug} failed in {self.where}: {self.summary}"


class PluginGuard:
    """The one way the host runs plugin code.

    A plugin's exception (whatever ``is_fault`` accepts: any exception but ``PASS_THROUGH``,
    and ``sys.exit()``) is logged with the plugin's slug and handed to ``report`` (a callable taking the ``PluginFault``; the plugin host stores it and
    applies recovery mode). ``report`` itself never breaks the caller: its errors are logged.

    ``isolate`` (optional) is called before each callback and returns a scope with ``keep()``
    and ``undo()``: the callback's side effects (its database statements) are kept when it
    returns and undone when it raises, so a callback that raises, or breaks the transaction
    (an SQL error on PostgreSQL), leaves the caller's transaction as it found it. Creating the
    scope may raise ``IsolationError`` (the caller's error, passed through).

    ``slow`` (optional) is called with ``(slug, where, seconds)`` when a callback returned after
    more than ``slow_seconds``: not a fault (nothing can interrupt it), a record for the admin.
    """

    def __init__(self, report: Callable[[PluginFault], None] | None = None,
                 isolate: Callable[[], object] | None = None,
                 slow: Callable[[str, str, float], None] | None = None, slow_seconds: float = 2.0):
        self.report = report
        self.isolate = isolate
        self.slow, self.slow_seconds = slow, slow_seconds

    def _run(self, slug: str, where: str, callback: Callable, args: tuple, kwargs: dict, shape=None):
        """``callback(*args, **kwargs)`` inside an isolation scope, kept only if it returns (a
        value of ``shape``, when given: else BadReturnValue, the plugin's fault)."""
        scope = self.isolate() if self.isolate is not None else NoScope()
        started = time.perf_counter()
        try:
            result = callback(*args, **kwargs)
            if shape is not None:
                shape.check(where, result)
            scope.keep()  # raises when the callback left its statements broken: its fault
        except BaseException:
            scope.undo()
            raise
        elapsed = time.perf_counter() - started
        if self.slow is not None and elapsed > self.slow_seconds:
            try:
                self.slow(slug, where, elapsed)
            except Exception:  # a diagnostic; it must never break the caller
                log.exception("could not record the slow callback of plugin %s", slug)
        return result

    def call(self, slug: str, where: str, callback: Callable, *args, **kwargs):
        """Return ``callback(*args, **kwargs)``; if it raises, report and raise ``PluginFault``."""
        try:
            return self._run(slug, where, callback, args, kwargs)
        except BaseException as error:
            if not is_fault(error):
                raise
            fault = self.fault(slug, where, error)
            raise fault from error

    def action(self, slug: str, hook: str, callback: Callable, args: tuple, kwargs: dict) -> None:
        """Run one action callback; if it raises, report it and carry on (the callback is skipped)."""
        try:
            self._run(slug, hook, callback, args, kwargs)
        except BaseException as error:
            if not is_fault(error):
                raise
            self.fault(slug, hook, error)

    def filter(self, slug: str, hook: str, callback: Callable, value, args: tuple, kwargs: dict,
               shape=None):
        """Run one filter callback and return its result; if it raises or returns a value that
        is not of ``shape`` (a ``Shape``, optional), report it and return ``value`` as it was
        before the call (the callback was given ``shape.copy(value)`` when the shape has a copy)."""
        given = shape.copy(value) if shape is not None and shape.copy is not None else value
        try:
            return self._run(slug, hook, callback, (given, *args), kwargs, shape)
        except BaseException as error:
            if not is_fault(error):
                raise
            self.fault(slug, hook, error)
            return value

    def fault(self, slug: str, where: str, error: BaseException) -> PluginFault:
        """Log and report ``error`` raised by plugin ``slug`` in ``where``; return the fault.

        Call it from an ``except`` block (the traceback is read from the exception)."""
        trace = "".join(traceback.format_exception(type(error), error, error.__traceback__))
        fault = PluginFault(slug, where, error, trace)
        log.error("plugin %s failed in %s (skipped):\n%s", slug, where, fault.traceback)
        if self.report is not None:
            try:
                self.report(fault)
            except Exception:  # the record is a diagnostic; it must never break the caller
                log.exception("could not record the fault of plugin %s", slug)
        return fault
