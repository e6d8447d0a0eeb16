"""Redirect targets taken from a request: normalised like a browser would, then parsed, local only."""
from urllib.parse import urlsplit, urlunsplit

from flask import request

# Browsers drop ASCII tab and newline anywhere in a URL and strip C0 controls and spaces at both
# ends (WHATWG URL Standard, "basic URL parser"); Werkzeug refuses some of them in a Location
# header. We drop every C0 control and DEL anywhere, then judge the target. str.translate maps
# code points (ints), not characters.
_DROPPED = dict.fromkeys([*range(0x20), 0x7F])


def normalise_target(target: str) -> str:
    """``target`` as a browser reads it: control characters gone, backslashes as slashes."""
    return target.translate(_DROPPED).strip(" ").replace("\\", "/")


def local_target(target, allow_host: str | None = None) -> str | None:
    """The path (with query and fragment) of ``target`` when it points at this host, else None.

    ``target`` may be a path (``/network/``) or, when ``allow_host`` is given, an absolute
    http(s) URL on that host (e.g. a Referer). What comes back is rebuilt from the parsed parts,
    so it is always a path starting with a single ``/``.
    """
    if not isinstance(target, str) or not target or len(target) > 2000:
        return None
    parts = urlsplit(normalise_target(target))
    if parts.scheme or parts.netloc:
        if allow_host is None or parts.scheme not in ("http", "https") or parts.netloc != allow_host:
            return None
    path = parts.path
    if not path.startswith("/") or path.startswith("//"):
        return None
    return urlunsplit(("", "", path, parts.query, parts.fragment))


def safe_next(target, fallback: str) -> str:
    """``target`` when it is a path on this host (see local_target), else ``fallback``."""
    return local_target(target) or fallback


def back_or(fallback: str) -> str:
    """The page the request came from (its Referer) when it is on this host, else ``fallback``."""
    return local_target(request.referrer, allow_host=request.host) or fallback
