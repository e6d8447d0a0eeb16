"""Adds every plugin's migrations/versions folder to Alembic's version locations (one env)."""
import os

from flask import current_app

from ..core.extensions import migrate


@migrate.configure
def add_plugin_version_locations(config):
    """Flask-Migrate configure callback: core versions plus each plugin's branch folder."""
    core = os.path.join(config.get_main_option("script_location"), "versions")
    host = current_app.extensions.get("herald_plugins")
    locations = [core, *(host.migration_dirs() if host else [])]
    config.set_main_option("version_locations", os.pathsep.join(locations))
    return config
