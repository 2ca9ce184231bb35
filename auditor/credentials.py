"""Keep secrets out of what the tool writes: reports, Parquet metadata, caches, error messages.

A base URL may carry a password (`https://user:pw@host/v1`) or a key in its query
(`?api_key=...`); such a URL still names the server, so it is kept with the secret parts
replaced, never dropped.
"""

from __future__ import annotations

import re
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

HIDDEN = "***"
_SECRET_QUERY = re.compile(r"key|token|secret|password|passwd|auth|sig", re.IGNORECASE)
_URL = re.compile(r"[a-zA-Z][a-zA-Z0-9+.-]*://[^\s'\"]+")


def strip_credentials(url: str) -> str:
    """`url` without its user:password part and with secret-looking query values hidden."""
    try:
        parts = urlsplit(url)
    except ValueError:
        return url
    netloc = parts.netloc
    if "@" in netloc:
        netloc = f"{HIDDEN}@{netloc.rsplit('@', 1)[1]}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = urlencode([(k, HIDDEN if _SECRET_QUERY.search(k) else v) for k, v in pairs])
    return urlunsplit((parts.scheme, netloc, parts.path, query, parts.fragment))


def redacted(value: Any) -> Any:
    """`value` (a string, or lists and dicts of them) with every URL in it stripped."""
    if isinstance(value, str):
        return _URL.sub(lambda match: strip_credentials(match.group(0)), value)
    if isinstance(value, dict):
        return {key: redacted(item) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redacted(item) for item in value)
    return value
