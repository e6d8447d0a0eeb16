"""The hook registry: WordPress-style actions and filters, each callback tagged with its plugin."""
import dataclasses
import itertools
import logging
import warnings
from dataclasses import dataclass, field
from typing import Callable, Optional

from .guard import PluginGuard
from .shapes import Shape

log = logging.getLogger(__name__)

DEFAULT_PRIORITY = 10


class UnknownHookWarning(UserWarning):
    """Issued when a callback is registered for a hook name that no catalogue declares."""


@dataclass(frozen=True)
class HookSpec:
    """A declared hook: its name, whether it is an action or a filter, and its documentation.

    ``shape`` (filters): what the value looks like; a plugin callback returning anything else
    is a fault of that plugin and the value it was given goes on (app.core.hooks.shapes)."""
    name: str
    kind: str  # "action" or "filter"
    doc: str
    domain: str = "core"
    shape: Optional[Shape] = None


@dataclass(order=True)
class Registration:
    """One callback registered on one hook; sorted by priority, then registration order."""
    priority: int
    sequence: int
    callback: Callable = field(compare=False)
    plugin: Optional[str] = field(compare=False, default=None)
    accepted_args: Optional[int] = field(compare=False, default=None)


class HookRegistry:
    """Stores hook specs and registrations; calls only callbacks of the core and of active plugins.

    Core callbacks (untagged) run as they are and their exceptions propagate; a plugin's callbacks
    run through the ``PluginGuard``, so one that raises is skipped (an action) or passes its input
    value through unchanged (a filter), and the fault is reported.

    ``is_active`` is a callable taking a plugin slug and telling whether its callbacks may run;
    it is asked at call time, so deactivating a plugin takes effect without a restart. ``guard``
    runs every plugin callback (the plugin host gives it a reporter that stores the faults).
    """

    def __init__(self, is_active: Callable[[str], bool] = lambda slug: True,
                 guard: Optional[PluginGuard] = None):
        self.specs: dict[str, HookSpec] = {}
        self._callbacks: dict[str, list[Registration]] = {}
        self._sequence = itertools.count()
        self.is_active = is_active
        self.guard = guard or PluginGuard()

    # -- catalogue -------------------------------------------------------
    def declare(self, spec: HookSpec) -> None:
        """Declare a hook so registrations for it are accepted without a warning."""
        self.specs[spec.name] = spec

    def declare_module(self, module, domain: str) -> None:
        """Declare every HookSpec found as a module attribute of a catalogue module."""
        for value in vars(module).values():
            if isinstance(value, HookSpec):
                self.declare(dataclasses.replace(value, domain=domain))

    # -- registration ----------------------------------------------------
    def add(self, name: str, callback: Callable, priority: int = DEFAULT_PRIORITY,
            plugin: Optional[str] = None) -> Callable:
        """Register ``callback`` on hook ``name``; lower priority runs first, ties in order added."""
        if not isinstance(priority, int):
            raise TypeError(f"hook priority must be an int, not {type(priority).__name__}")
        if name not in self.specs:
            warnings.warn(f"{plugin or 'core'} registers for unknown hook {name!r}",
                          UnknownHookWarning, stacklevel=3)
        entries = self._callbacks.setdefault(name, [])
        entries.append(Registration(priority, next(self._sequence), callback, plugin))
        entries.sort()
        return callback

    def remove(self, name: str, callback: Callable, priority: Optional[int] = None) -> bool:
        """Remove ``callback`` from hook ``name`` (only at ``priority`` when given); True if found."""
        entries = self._callbacks.get(name, [])
        kept = [r for r in entries
                if not (r.callback == callback and (priority is None or r.priority == priority))]
        self._callbacks[name] = kept
        return len(kept) != len(entries)

    def remove_plugin(self, plugin: str) -> None:
        """Forget every registration a plugin made (used when its setup fails half-way)."""
        for name, entries in self._callbacks.items():
            self._callbacks[name] = [r for r in entries if r.plugin != plugin]

    def has(self, name: str) -> bool:
        """True when any runnable callback is registered on ``name``."""
        return any(True for _ in self._runnable(name))

    def _runnable(self, name: str):
        for registration in list(self._callbacks.get(name, ())):
            if registration.plugin is None or self.is_active(registration.plugin):
                yield registration

    # -- calling ---------------------------------------------------------
    def do_action(self, name: str, *args, **kwargs) -> None:
        """Call every runnable callback of action ``name``; return values are ignored.

        A core callback's exception propagates; a plugin callback that raises is reported and
        skipped, and the next callbacks still run."""
        for registration in self._runnable(name):
            if registration.plugin is None:
                registration.callback(*args, **kwargs)
            else:
                self.guard.action(registration.plugin, name, registration.callback, args, kwargs)

    def apply_filters(self, name: str, value, *args, **kwargs):
        """Thread ``value`` through every runnable callback of filter ``name`` and return it.

        A core callback's exception propagates; a plugin callback that raises, or returns a value
        not of the spec's ``shape``, is reported and the value it was given goes on to the next
        callback unchanged (it was given a copy when the shape says how to make one)."""
        shape = None
        for registration in self._runnable(name):
            if registration.plugin is None:
                value = registration.callback(value, *args, **kwargs)
            else:
                if shape is None:
                    spec = self.specs.get(name)
                    shape = spec.shape if spec is not None else None
                value = self.guard.filter(registration.plugin, name, registration.callback,
                                          value, args, kwargs, shape)
        return value

    def registrations(self, name: str) -> list[Registration]:
        """All registrations of ``name`` (active or not), in calling order."""
        return list(self._callbacks.get(name, ()))
