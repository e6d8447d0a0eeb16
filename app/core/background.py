"""One call at a time in a thread of its own, with its own application context, while the caller
goes on: the send loop's database transaction runs while the batch before it is sent.

The thread pushes a fresh application context of the caller's app, so it has its own database
session (Flask-SQLAlchemy scopes sessions by application context) and its own connection from the
pool; the session is removed when the call ends. Waits in the database or the network release
the GIL, so the caller's CPU work and the database's overlap.
"""
import threading

from flask import current_app


class Background:
    """Runs ``start(func, *args)`` in a new daemon thread; ``result()`` waits for it and returns
    what ``func`` returned, or raises what it raised (any BaseException, in the caller's thread).

    One call at a time: ``start`` raises RuntimeError while a call is not collected by
    ``result``. ``pending`` is True from ``start`` until ``result``.
    """

    def __init__(self, name: str = "herald-background"):
        self.name = name
        self._thread: threading.Thread | None = None
        self._outcome: tuple[bool, object] | None = None

    @property
    def pending(self) -> bool:
        """True while a call was started and its result not collected."""
        return self._thread is not None

    def start(self, func, *args) -> None:
        """Call ``func(*args)`` in a new thread, inside an application context of the current app."""
        if self._thread is not None:
            raise RuntimeError("collect the result of the call in flight first")
        app = current_app._get_current_object()
        self._outcome = None

        def target():
            try:
                with app.app_context():
                    self._outcome = (True, func(*args))
            except BaseException as error:  # noqa: BLE001 - handed to the caller by result()
                self._outcome = (False, error)

        self._thread = threading.Thread(target=target, name=self.name, daemon=True)
        self._thread.start()

    def result(self):
        """Wait for the call in flight; its return value (None when there is none), or its error."""
        if self._thread is None:
            return None
        self._thread.join()
        self._thread = None
        done, value = self._outcome
        self._outcome = None
        if done:
            return value
        raise value
