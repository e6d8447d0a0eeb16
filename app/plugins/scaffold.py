"""`flask plugins new`: a working plugin written from the templates in scaffold/."""
import re
from pathlib import Path
from string import Template

from flask import current_app, has_app_context

SCAFFOLD = Path(__file__).parent / "scaffold"
SLUG_RE = re.compile(r"^[a-z][a-z0-9_]{1,39}$")
NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9 .,&()'-]{0,59}$")
RESERVED = {"static", "plugins", "core", "app", "tests"}


class ScaffoldError(Exception):
    """The plugin cannot be created here; the message says why."""


def check_slug(slug: str) -> None:
    """Raise ScaffoldError unless ``slug`` can name a new plugin (and its tables and URLs)."""
    if not SLUG_RE.match(slug or ""):
        raise ScaffoldError(f"{slug!r} cannot be a plugin slug: use 2 to 40 lower-case letters, "
                            "digits and _, starting with a letter (it prefixes the plugin's tables).")
    if slug in RESERVED:
        raise ScaffoldError(f"{slug!r} is reserved; choose another slug.")
    if has_app_context() and slug in current_app.extensions["herald_plugins"].plugins:
        raise ScaffoldError(f"A plugin named {slug!r} exists already (a folder or an installed "
                            "package); choose another slug.")


def files(slug: str, name: str) -> dict[Path, str]:
    """{relative path: content} of the new plugin: every scaffold/ template with its
    placeholders ($slug, $name, $url) filled in and SLUG in file names replaced."""
    values = {"slug": slug, "name": name, "url": slug.replace("_", "-")}
    found = {}
    for template in sorted(SCAFFOLD.rglob("*.tmpl")):
        relative = template.relative_to(SCAFFOLD).with_suffix("")
        relative = Path(*(part.replace("SLUG", slug) for part in relative.parts))
        found[relative] = Template(template.read_text()).substitute(values)
    return found


def scaffold(slug: str, target, name: str | None = None) -> Path:
    """Write a new plugin ``slug`` into ``target`` (a plugins folder); returns its folder.

    The plugin has PLUGIN_INFO, setup(), activate/deactivate/upgrade/uninstall, an admin page
    with its template and stylesheet, a model with its migration branch, two typed settings, an
    event with a default system e-mail, and a test that passes as generated."""
    check_slug(slug)
    name = name or slug.replace("_", " ").capitalize()
    if not NAME_RE.match(name):
        raise ScaffoldError(f"{name!r} cannot be a plugin name: use letters, digits, spaces and "
                            ".,&()'- (at most 60 characters).")
    folder = Path(target) / slug
    if folder.exists():
        raise ScaffoldError(f"{folder} exists already; choose another slug or remove it.")
    for relative, content in files(slug, name).items():
        path = folder / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content)
    return folder
