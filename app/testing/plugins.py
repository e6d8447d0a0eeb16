"""Plugins in tests: the ``herald_plugin`` marker and fixture, and throw-away plugin folders."""
import shutil
import sys
import tempfile
import uuid
from pathlib import Path

import pytest

_site = {}  # the run's folder of generated entry points, created on first use


def make_discoverable(slug: str, package: Path) -> None:
    """Make the package folder ``package`` plugin ``slug`` of this run, as an installed plugin.

    Its parent folder goes on ``sys.path`` (tests import it by its own name) and a generated
    distribution declares it in the ``herald.plugins`` entry-point group, so Herald loads that
    same module: no second copy of its models.
    """
    package = package.resolve()
    if not (package / "__init__.py").is_file():
        raise pytest.UsageError(f"herald_plugin({slug!r}): {package} is not a Python package folder")
    if str(package.parent) not in sys.path:
        sys.path.insert(0, str(package.parent))
    if "path" not in _site:
        _site["path"] = Path(tempfile.mkdtemp(prefix="herald-test-plugins-"))
        sys.path.append(str(_site["path"]))
    dist = _site["path"] / f"herald_test_plugin_{slug}-0.dist-info"
    if not dist.exists():
        dist.mkdir()
        (dist / "METADATA").write_text(f"Metadata-Version: 2.1\nName: herald-test-plugin-{slug}\n"
                                       "Version: 0\n")
        (dist / "entry_points.txt").write_text(f"[herald.plugins]\n{slug} = {package.name}\n")


def pytest_collection_finish(session):
    """Before any app is built: make every folder named by a ``herald_plugin`` marker a plugin."""
    for item in session.items:
        for marker in item.iter_markers("herald_plugin"):
            path = marker.kwargs.get("path") or (marker.args[1] if len(marker.args) > 1 else None)
            if path is not None:
                make_discoverable(marker.args[0], session.config.rootpath / path)


def pytest_unconfigure(config):
    """Remove the generated entry points."""
    if "path" in _site:
        shutil.rmtree(_site.pop("path"), ignore_errors=True)


@pytest.fixture
def herald_plugin(request, app, committed):
    """Function: activates the plugins named by the test's ``herald_plugin`` markers, in order.

    Gives the first one's ``host`` (the PluginContext its ``setup`` received: ``get_setting``,
    ``set_setting``, ``info.module`` is the module Herald loaded); fails with the plugin's traceback
    when it did not load. Activation is committed data (the plugin host reads it on its own
    connection), so the test commits for real.
    """
    from app.plugins.services import activate

    host = app.extensions["herald_plugins"]
    contexts = []
    for marker in reversed(list(request.node.iter_markers("herald_plugin"))):
        slug = marker.args[0]
        info = host.plugins.get(slug)
        if info is None:
            pytest.fail(f"no plugin {slug!r}: Herald found {', '.join(sorted(host.plugins)) or 'none'} "
                        "(give the marker path= to load one from a folder)")
        if info.error:
            pytest.fail(f"plugin {slug!r} failed to load:\n{info.error}")
        activate(slug)
        contexts.append(host.contexts[slug])
    if not contexts:
        pytest.fail("the herald_plugin fixture needs @pytest.mark.herald_plugin('slug') on the test")
    return contexts[0]


@pytest.fixture(autouse=True)
def _herald_plugin_marker(request):
    """Function, automatic: a test marked ``herald_plugin`` gets its plugins activated."""
    if request.node.get_closest_marker("herald_plugin") is not None:
        request.getfixturevalue("herald_plugin")


@pytest.fixture
def plugin_dir(tmp_path):
    """Function: an empty folder for throw-away plugins (``write_plugin``), to use as PLUGINS_DIR."""
    path = tmp_path / f"plugins_{uuid.uuid4().hex[:8]}"
    path.mkdir()
    return path


def write_plugin(plugin_dir: Path, slug: str, code: str) -> Path:
    """Write the plugin package ``plugin_dir/<slug>/__init__.py`` with ``code``; returns its folder."""
    package = plugin_dir / slug
    package.mkdir()
    (package / "__init__.py").write_text(code)
    return package
