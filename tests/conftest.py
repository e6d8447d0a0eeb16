"""Herald's suite gets every fixture from Herald's own pytest plugin (app.testing, entry point
``herald``), the same one plugins' tests use; see docs/plugins.md, "Testing a plugin"."""
import pytest


def pytest_configure(config):
    """Stop at once, with the fix, when the plugin is not installed (an old editable install)."""
    if not config.pluginmanager.has_plugin("herald"):
        raise pytest.UsageError("Herald's pytest plugin is not registered: run "
                                "`.venv/bin/pip install -e '.[test]'` (or `make install`) again.")
