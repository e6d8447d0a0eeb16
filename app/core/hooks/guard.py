"""The guard at the plugin boundary: a plugin's exception is logged, reported and contained."""
import logging
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

    A plugin's exception (anything but ``PASS_THROUGH``) is logged with the plugin's slug and
    handed to ``report`` (a callable taking the ``PluginFault``; the plugin host stores it and
    applies recovery mode). ``report`` itself never breaks the caller: its errors are logged.

    ``isolate`` (optional) is called before each callback and returns a scope with ``keep()``
    and ``undo()``: the callback's side effects (its database statements) are kept when it
    returns and undone when it raises, so a callback that raises, or breaks the transaction
    (an SQL error on PostgreSQL), leaves the caller's transaction as it found it. Creating the
    scope may raise ``IsolationError`` (the caller's error, passed through).
    """

    def __init__(self, report: Callable[[PluginFault], None] | None = None,
                 isolate: Callable[[], object] | None = None):
        self.report = report
        self.isolate = isolate

    def _run(self, callback: Callable, args: tuple, kwargs: dict):
        """``callback(*args, **kwargs)`` inside an isolation scope, kept only if it returns."""
        scope = self.isolate() if self.isolate is not None else NoScope()
        try:
            result = callback(*args, **kwargs)
            scope.keep()  # raises when the callback left its statements broken: its fault
        except BaseException:
            scope.undo()
            raise
        return result

    def call(self, slug: str, where: str, callback: Callable, *args, **kwargs):
        """Return ``callback(*args, **kwargs)``; if it raises, report and raise ``PluginFault``."""
        try:
            return self._run(callback, args, kwargs)
        except PASS_THROUGH:
            raise
        except Exception as error:
            fault = self.fault(slug, where, error)
            raise fault from error

    def action(self, slug: str, hook: str, callback: Callable, args: tuple, kwargs: dict) -> None:
        """Run one action callback; if it raises, report it and carry on (the callback is skipped)."""
        try:
            self._run(callback, args, kwargs)
        except PASS_THROUGH:
            raise
        except Exception as error:
            self.fault(slug, hook, error)

    def filter(self, slug: str, hook: str, callback: Callable, value, args: tuple, kwargs: dict):
        """Run one filter callback; if it raises, report it and return ``value`` unchanged."""
        try:
            return self._run(callback, (value, *args), kwargs)
        except PASS_THROUGH:
            raise
        except Exception as error:
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
