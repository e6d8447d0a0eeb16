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

ENTRY_POINT_GROUP = "herald.plugins"
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

    @property
    def loaded(self) -> bool:
        """True when the plugin imported and its setup ran without error."""
        return self.module is not None and self.error is None

    @property
    def templates_dir(self) -> Optional[Path]:
        """The plugin's templates/ folder, if it has one."""
        return self._subdir("templates")

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
    """Import ``plugins/<slug>`` as the package ``plugins.<slug>`` (or a private name elsewhere)."""
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
    spec.loader.exec_module(module)
    return module


def discover(plugins_dir) -> list[PluginInfo]:
    """Every plugin found, in slug order; import failures are recorded on the PluginInfo."""
    found: dict[str, PluginInfo] = {}
    base = Path(plugins_dir)
    if base.is_dir():
        for directory in sorted(p for p in base.iterdir() if (p / "__init__.py").exists()):
            info = PluginInfo(slug=directory.name, source="directory", path=directory)
            _load(info, lambda d=directory: _import_directory_plugin(d))
            found[info.slug] = info
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        if ep.name in found:
            continue
        info = PluginInfo(slug=ep.name, source="entry point")
        _load(info, ep.load)
        if info.module is not None and getattr(info.module, "__file__", None):
            info.path = Path(info.module.__file__).parent
        found[info.slug] = info
    return [found[slug] for slug in sorted(found)]


def _load(info: PluginInfo, importer) -> None:
    try:
        info.module = importer()
        info.read_metadata()
    except Exception:  # a broken plugin is recorded, never fatal
        info.error = traceback.format_exc()
        info.name = info.name or info.slug
