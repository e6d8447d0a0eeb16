"""Bundled Herald plugins: each sub-package is a plugin with PLUGIN_INFO and setup(host)."""
