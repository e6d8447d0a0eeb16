"""The core layer: extensions, configuration, jobs, hooks, settings, menu, wizard base and utilities; imports nothing else from app/."""
