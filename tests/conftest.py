"""Herald's suite takes its fixtures from Herald's pytest plugin (app.testing), as plugins' tests do."""
import pytest


def pytest_configure(config):
    """Stop at once, with the fix, when the plugin is not installed (an old editable install)."""
    if not config.pluginmanager.has_plugin("herald"):
        raise pytest.UsageError("Herald's pytest plugin is not registered: run "
                                "`.venv/bin/pip install -e '.[test]'` (or `make install`) again.")
