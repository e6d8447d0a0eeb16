"""`flask plugins new` writes a plugin that lints, activates and passes its own generated test."""
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.plugins.helpers import cli

REPO = Path(__file__).resolve().parents[2]


def _ruff():
    found = shutil.which("ruff") or str(Path(sys.executable).parent / "ruff")
    return found if os.path.exists(found) else None


def test_the_generated_plugin_lints_and_passes_its_own_tests(make_app, tmp_path, redis_database):
    """Independent of the checkout: an author following the docs may have plugins/field_notes."""
    empty = tmp_path / "no_plugins"
    empty.mkdir()
    app = make_app(PLUGINS_DIR=str(empty))
    target = tmp_path / "plugins"
    result = cli(app, "plugins", "new", "field_notes", "--name", "Field notes", "--dir", str(target))
    assert result.exit_code == 0, result.output
    folder = target / "field_notes"
    assert {p.relative_to(folder).as_posix() for p in folder.rglob("*") if p.is_file()} == {
        "__init__.py", "models.py", "views.py", "templates/index.html", "static/field_notes.css",
        "migrations/versions/field_notes_0001.py", "tests/__init__.py", "tests/test_field_notes.py"}
    for path in folder.rglob("*.py"):
        source = path.read_text()
        compile(source, str(path), "exec")
        assert max(len(line) for line in source.splitlines()) <= 110, path  # setup.cfg's limit
    if _ruff():  # the linter, when installed
        lint = subprocess.run([_ruff(), "check", "--isolated", "--line-length", "110", str(folder)],
                              cwd=REPO, capture_output=True, text=True)
        assert lint.returncode == 0, lint.stdout
    # its tests run as an author runs them, next to the plugin: SQLite rather than the outer run's
    # PostgreSQL database, and the outer run's Redis database, shared while this test waits
    environment = {key: value for key, value in os.environ.items()
                   if key != "TEST_DATABASE_URL" and not key.startswith("PYTEST_")}
    environment.update(TEST_REDIS_URL=redis_database.url, PYTHONDONTWRITEBYTECODE="1",
                       HERALD_PLUGINS_DIR=str(empty))
    run = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "field_notes"],
                         cwd=target, env=environment, capture_output=True, text=True, timeout=600)
    assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
    assert re.search(r"\b3 passed\b", run.stdout), run.stdout[-2000:]


def test_bad_slugs_and_existing_plugins_are_refused(app, tmp_path):
    for slug, message in (("Bad-Slug", "cannot be a plugin slug"), ("core_emails", "exists already"),
                          ("static", "is reserved")):
        result = cli(app, "plugins", "new", slug, "--dir", str(tmp_path))
        assert result.exit_code == 1 and message in result.output, slug
    (tmp_path / "taken").mkdir()
    assert "exists already" in cli(app, "plugins", "new", "taken", "--dir", str(tmp_path)).output
