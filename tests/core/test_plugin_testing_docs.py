"""docs/plugins.md's "Testing a plugin" example passes, run from a repository of its own."""
import os
import re
import subprocess
import sys
from pathlib import Path

DOC = Path(__file__).resolve().parents[2] / "docs" / "plugins.md"
BLOCK = r"`({prefix}/[^`]+)`:\n\n```\w+\n(.*?)```"


def _files(prefix):
    return dict(re.findall(BLOCK.format(prefix=re.escape(prefix)), DOC.read_text(), re.S))


def test_the_documented_plugin_tests_pass_in_their_own_repository(tmp_path, redis_database):
    plugin, tests = _files("plugins/site_notes"), _files("site-notes")
    assert set(tests) == {"site-notes/pyproject.toml", "site-notes/tests/test_site_notes.py"}
    repo = tmp_path / "site-notes"
    for path, code in plugin.items():
        target = repo / "site_notes" / path.removeprefix("plugins/site_notes/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    for path, code in tests.items():
        target = tmp_path / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(code)
    # SQLite, not the outer run's PostgreSQL database; the outer run's Redis database, which the
    # nested run may share because this test waits for it
    environment = {key: value for key, value in os.environ.items()
                   if key not in ("TEST_DATABASE_URL", "PYTEST_ADDOPTS") and not key.startswith("PYTEST_")}
    environment["TEST_REDIS_URL"] = redis_database.url
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=repo,
                            env=environment, capture_output=True, text=True, timeout=600)
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    assert re.search(r"\b6 passed\b", result.stdout), result.stdout[-2000:]
