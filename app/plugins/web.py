"""A plugin blueprint's functions, each wrapped in the guard: its views and its app-wide request hooks."""
import functools
from dataclasses import dataclass

from flask import abort, current_app, has_request_context, request
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from ..core.hooks.guard import PluginFault, is_fault

# Flask's per-scope registries a blueprint fills when it is registered ({scope: [function]});
# the scope None is the whole app (before_app_request ...), a blueprint's name only its pages.
LISTS = ("before_request_funcs", "after_request_funcs", "teardown_request_funcs",
         "template_context_processors", "url_value_preprocessors", "url_default_functions")
JINJA = ("filters", "tests", "globals")
# What a blueprint could change on the app that no guard can wrap: refused.
UNGUARDABLE = ("wsgi_app", "teardown_appcontext_funcs", "url_build_error_handlers",
               "shell_context_processors")


class PluginSetupError(TypeError):
    """A plugin blueprint registered something Herald cannot run through the guard."""


@dataclass
class Snapshot:
    """What the app held before a plugin blueprint was registered."""
    lists: dict
    handlers: dict
    jinja: dict
    fixed: dict


def snapshot(app) -> Snapshot:
    """The app's request hooks, error handlers and template names before a registration."""
    return Snapshot(
        {name: {scope: list(funcs) for scope, funcs in getattr(app, name).items()} for name in LISTS},
        {(scope, code): dict(handlers) for scope, codes in app.error_handler_spec.items()
         for code, handlers in codes.items()},
        {name: dict(getattr(app.jinja_env, name)) for name in JINJA},
        {name: _kept(vars(app).get(name)) for name in UNGUARDABLE})


def _kept(value):
    return list(value) if isinstance(value, list) else value


def _same(value, kept) -> bool:
    if isinstance(value, list):
        return len(value) == len(kept) and all(a is b for a, b in zip(value, kept))
    return value is kept


class BlueprintGuard:
    """Wraps what registering plugin ``slug``'s blueprint ``name`` added to the app.

    ``runs(slug)`` tells whether the plugin's app-wide functions may run now (it is active and
    the page is not a plugin-free one); its pages' functions run while it is active."""

    def __init__(self, host, slug: str, name: str):
        self.host, self.slug, self.name = host, slug, name

    def own(self, scope) -> bool:
        """True for a scope of the plugin's own pages (its blueprint or a nested one)."""
        return scope is not None and (scope == self.name or scope.startswith(self.name + "."))

    def wrap_new(self, app, before: Snapshot) -> None:
        """Replace every function the registration added by its guarded version; what cannot be
        guarded is taken back out, then PluginSetupError says what it was."""
        refused = []
        for name in UNGUARDABLE:
            if not _same(vars(app).get(name), before.fixed[name]):
                if isinstance(before.fixed[name], list):
                    getattr(app, name)[:] = before.fixed[name]
                elif before.fixed[name] is None:
                    delattr(app, name)  # the class's own method again
                else:
                    setattr(app, name, before.fixed[name])
                refused.append(f"it changes app.{name}, which no guard can wrap")
        for name in LISTS:
            kind = name.removesuffix("_funcs").removesuffix("s")
            for scope, funcs in getattr(app, name).items():
                old = {id(f) for f in before.lists[name].get(scope, ())}
                funcs[:] = [f if id(f) in old else self._wrap(kind, scope, f) for f in funcs]
        for scope, codes in app.error_handler_spec.items():
            for code, handlers in codes.items():
                old = before.handlers.get((scope, code), {})
                for cls, handler in handlers.items():
                    if old.get(cls) is not handler:
                        handlers[cls] = self._error_handler(scope, handler)
        for name in JINJA:
            table, old = getattr(app.jinja_env, name), before.jinja[name]
            for key, value in list(table.items()):
                if key in old and old[key] is value:
                    continue
                if key in old or not callable(value):
                    refused.append(f"its template {name[:-1]} {key!r} "
                                   + ("would replace the core's" if key in old else "is not a function"))
                    if key in old:
                        table[key] = old[key]
                    else:
                        del table[key]
                    continue
                table[key] = self._template(name[:-1], key, value)
        if refused:
            raise PluginSetupError(f"plugin {self.slug}'s blueprint cannot be run through Herald's "
                                   f"guard: {'; '.join(refused)}. Register request hooks, error "
                                   "handlers and new template filters/tests/globals on the blueprint.")

    # -- the wrappers ------------------------------------------------------
    def _allowed(self, scope) -> bool:
        return self.host.is_active(self.slug) if self.own(scope) else self.host.web_runs(self.slug)

    def _where(self, scope, kind, function) -> str:
        name = getattr(function, "__qualname__", repr(function))
        return f"view {scope} {kind} {name}" if self.own(scope) else f"app {kind} {name}"

    def _contain(self, error, where):
        """Record ``error`` when it is the plugin's fault; re-raise what is not."""
        if not is_fault(error):
            raise error
        self.host.guard.fault(self.slug, where, error)

    def _wrap(self, kind, scope, function):
        where, own = self._where(scope, kind, function), self.own(scope)
        neutral = {"after_request": lambda r: r, "template_context_processor": lambda: {}}.get(
            kind, lambda *a: None)

        @functools.wraps(function)
        def guarded(*args):
            if not self._allowed(scope):
                return neutral(*args)
            given = args
            if kind in ("url_value_preprocessor", "url_default_function"):
                given = (args[0], dict(args[1]) if args[1] is not None else None)
            try:
                result = function(*given)
                if kind == "template_context_processor" and not isinstance(result, dict):
                    raise TypeError(f"a context processor must return a dict, not {type(result).__name__}")
                if kind == "after_request" and not isinstance(result, Response):
                    raise TypeError(f"an after-request function must return the response, not "
                                    f"{type(result).__name__}")
            except BaseException as error:
                self._contain(error, where)
                if own and kind == "before_request":  # its own page fails closed: 500
                    raise PluginFault(self.slug, where, error, "") from None
                return neutral(*args)
            if given is not args and args[1] is not None:
                args[1].clear()
                args[1].update(given[1])
            return result
        return guarded

    def _error_handler(self, scope, handler):
        where = self._where(scope, "errorhandler", handler)

        @functools.wraps(handler)
        def guarded(error):
            if self._allowed(scope):
                try:
                    result = handler(error)
                    if result is None:
                        raise TypeError("an error handler must return a response, not None")
                    return result
                except BaseException as failure:
                    if failure is error:
                        raise
                    self._contain(failure, where)
            fallback = _core_handler(error)
            if fallback is not None:
                return fallback(error)
            if isinstance(error, HTTPException):
                return error
            raise error
        guarded.herald_plugin = self.slug
        return guarded

    def _template(self, kind, key, function):
        where = f"app template_{kind} {key}"
        passes = getattr(function, "jinja_pass_arg", None) is not None

        @functools.wraps(function)
        def guarded(*args, **kwargs):
            value = args[1 if passes else 0] if len(args) > (1 if passes else 0) else ""
            neutral = {"filter": value, "test": False}.get(kind, "")
            if not self.host.web_runs(self.slug):
                return neutral
            try:
                return function(*args, **kwargs)
            except BaseException as error:
                self._contain(error, where)
                return neutral
        return guarded


def _core_handler(error):
    """The error handler the app would use for ``error`` without the plugins' ones."""
    app = current_app
    exc_class, code = app._get_exc_class_and_code(type(error))
    scopes = (*request.blueprints, None) if has_request_context() else (None,)
    for c in (code, None) if code is not None else (None,):
        for scope in scopes:
            handlers = app.error_handler_spec[scope][c]
            for cls in exc_class.__mro__:
                handler = handlers.get(cls)
                if handler is not None and not hasattr(handler, "herald_plugin"):
                    return handler
    return None


def guarded_view(host, slug: str, endpoint: str, view):
    """``view`` answering 404 while plugin ``slug`` is inactive; its fault (``sys.exit()``
    included) is recorded against the plugin and answers 500."""
    where = f"view {endpoint}"

    @functools.wraps(view)
    def guarded(*args, **kwargs):
        if not host.is_active(slug):
            abort(404)
        try:
            return view(*args, **kwargs)
        except BaseException as error:
            if not is_fault(error):
                raise
            fault = host.guard.fault(slug, where, error)
            if isinstance(error, Exception):
                raise
            raise fault from error  # SystemExit and the like must not end the web process
    return guarded
