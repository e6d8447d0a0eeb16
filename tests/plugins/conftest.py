"""Fixtures of the plugin-host tests: fresh fixture-plugin modules and the faulty plugins' app."""
import sys

import pytest

from tests.plugins.helpers import BUNDLED, FIXTURES


@pytest.fixture(autouse=True)
def fresh_plugin_modules():
    """Forget the fixture plugins' modules after each test, so module-level state starts empty."""
    yield
    for name in [m for m in sys.modules if m.startswith("herald_plugin_")]:
        del sys.modules[name]


@pytest.fixture
def faulty_app(make_app, tmp_path):
    """An app loading the plugins of tests/fixtures/plugins/faulty and the bundled Core e-mails
    (none active yet); it sends to the run's SMTP sink."""
    folder = tmp_path / "faulty_plugins"
    folder.mkdir()
    for plugin in [*(FIXTURES / "faulty").iterdir(), BUNDLED / "core_emails"]:
        (folder / plugin.name).symlink_to(plugin, target_is_directory=True)
    return make_app(PLUGINS_DIR=str(folder))
