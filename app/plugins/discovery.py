"""Finding plugins: packages under plugins/ and distributions in the ``herald.plugins`` group."""
import importlib
import importlib.util
import sys
import traceback
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from types import ModuleType
from typing import Optional

from ..core.config import PROJECT_ROOT
from ..core.hooks.guard import is_fault

ENTRY_POINT_GROUP = "herald.plugins"
# The plugins shipped in Herald's own plugins/ folder. They are set up before every other plugin,
# so the slugs they register (events, system e-mails) stay theirs whatever the others are named.
BUNDLED = ("core_emails", "domain_mapping")
METADATA_KEYS = ("name", "version", "description", "author", "requires")


@dataclass
class PluginInfo:
    """What the host knows of one plugin: metadata, module, where it came from and any error."""
    slug: str
    source: str  # "directory" or "entry point"
    path: Optional[Path] = None
    module: Optional[ModuleType] = None
    name: str = ""
    version: str = ""
    description: str = ""
    author: str = ""
    requires: list = field(default_factory=list)
    error: Optional[str] = None
    conflict: bool = False  # another plugin has the same slug: both are refused

    @property
    def loaded(self) -> bool:
        """True when the plugin imported and its setup ran without error."""
        return self.module is not None and self.error is None

    @property
    def bundled(self) -> bool:
        """True for a plugin shipped with Herald: one of BUNDLED, from Herald's plugins/ folder
        (a symlink to it counts: its target is that folder)."""
        return (self.slug in BUNDLED and self.path is not None
                and self.path.resolve() == (PROJECT_ROOT / "plugins" / self.slug).resolve())

    @property
    def templates_dir(self) -> Optional[Path]:
        """The plugin's templates/ folder, if it has one."""
        return self._subdir("templates")

    @property
    def static_dir(self) -> Optional[Path]:
        """The plugin's static/ folder (served under /plugins/<slug>/static/), if it has one."""
        return self._subdir("static")

    @property
    def migrations_dir(self) -> Optional[Path]:
        """The plugin's migrations/versions/ folder (an Alembic branch), if it has one."""
        return self._subdir("migrations/versions")

    def _subdir(self, name) -> Optional[Path]:
        if self.path is None:
            return None
        candidate = self.path / name
        return candidate if candidate.is_dir() else None

    def read_metadata(self) -> None:
        """Copy the module's PLUGIN_INFO dict onto this object."""
        meta = getattr(self.module, "PLUGIN_INFO", None) or {}
        for key in METADATA_KEYS:
            if key in meta:
                setattr(self, key, list(meta[key]) if key == "requires" else str(meta[key]))
        self.name = self.name or self.slug


def _import_directory_plugin(directory: Path) -> ModuleType:
    """Import ``plugins/<slug>`` as the package ``plugins.<slug>`` (or a private name elsewhere).

    A package already imported from the same, unchanged file, under any name (a second app in
    the same process, or pytest collecting the plugin's tests), is reused: executing it again
    would declare its models twice. A file changed since (a test rewriting a plugin) is
    executed again."""
    loaded = _already_imported(directory / "__init__.py")
    if loaded is not None:
        return loaded
    root = directory.parent
    if (root / "__init__.py").exists() and root.name == "plugins":
        if str(root.parent) not in sys.path:
            sys.path.insert(0, str(root.parent))
        return importlib.import_module(f"plugins.{directory.name}")
    name = f"herald_plugin_{directory.name}"
    spec = importlib.util.spec_from_file_location(
        name, directory / "__init__.py", submodule_search_locations=[str(directory)])
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except BaseException:
        del sys.modules[name]
        raise
    _IMPORTED[(directory / "__init__.py").resolve()] = _signature(directory / "__init__.py")
    return module


_IMPORTED: dict = {}  # resolved __init__.py -> its (mtime, size) when this module imported it


def _signature(path: Path) -> tuple:
    stat = path.stat()
    return stat.st_mtime_ns, stat.st_size


def _already_imported(init_file: Path) -> Optional[ModuleType]:
    target, tail = init_file.resolve(), f"{init_file.parent.name}/__init__.py"
    for module in list(sys.modules.values()):
        path = getattr(module, "__file__", None)
        if path and Path(path).as_posix().endswith(tail) and Path(path).resolve() == target:
            imported = _IMPORTED.get(target)
            return module if imported in (None, _signature(target)) else None
    return None


def discover(plugins_dir) -> list[PluginInfo]:
    """Every plugin found, in slug order; import failures are recorded on the PluginInfo.

    Two plugins with one slug (a folder and an installed package, or two packages) are both
    refused, with an error saying where each comes from: neither is imported, so neither takes
    over the other's settings, tables or active state. An entry point that names the very
    package folder found in ``plugins_dir`` (``pip install -e plugins/x``) is that same plugin."""
    candidates: dict[str, list] = {}
    base = Path(plugins_dir)
    if base.is_dir():
        for directory in sorted(p for p in base.iterdir() if (p / "__init__.py").exists()):
            candidates.setdefault(directory.name, []).append(("directory", directory))
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        found_here = candidates.get(ep.name, [])
        if not any(source == "directory" and _same_folder(ep, origin) for source, origin in found_here):
            candidates.setdefault(ep.name, []).append(("entry point", ep))
    found = []
    for slug in sorted(candidates):
        (source, origin), *others = candidates[slug]
        if others:
            found.append(_conflict(slug, candidates[slug]))
        elif source == "directory":
            info = PluginInfo(slug=slug, source=source, path=origin)
            _load(info, lambda d=origin: _import_directory_plugin(d))
            found.append(info)
        else:
            info = PluginInfo(slug=slug, source=source)
            _load(info, origin.load)
            if info.module is not None and getattr(info.module, "__file__", None):
                info.path = Path(info.module.__file__).parent
            found.append(info)
    return found


def _same_folder(ep, directory: Path) -> bool:
    """True when entry point ``ep`` names the package in ``directory`` (found without importing it)."""
    if "." in ep.module:
        return False
    try:
        spec = importlib.util.find_spec(ep.module)
    except (ImportError, ValueError):
        return False
    return bool(spec and spec.origin) and Path(spec.origin).resolve().parent == directory.resolve()


def _describe(source, origin) -> str:
    if source == "directory":
        return f"the folder {origin}"
    dist = getattr(origin, "dist", None)
    package = f" of the package {dist.name}" if dist is not None else ""
    return f"the entry point {origin.name} = {origin.value}{package}"


def _conflict(slug, origins) -> PluginInfo:
    """A refused plugin standing for every plugin named ``slug``."""
    where = "; ".join(_describe(source, origin) for source, origin in origins)
    info = PluginInfo(slug=slug, source=" + ".join(sorted({s for s, _ in origins})), name=slug,
                      conflict=True)
    info.error = (f"Two plugins are named {slug!r}: {where}. Herald loads neither of them. "
                  "Rename or remove one (for an installed package: pip uninstall it), then "
                  "restart the web processes and workers.")
    return info


def _load(info: PluginInfo, importer) -> None:
    try:
        info.module = importer()
        info.read_metadata()
    except BaseException as error:  # a broken plugin is recorded, never fatal (sys.exit() too)
        if not is_fault(error):
            raise
        info.error = traceback.format_exc()
        info.name = info.name or info.slug
