"""Keep passwords out of every line the plugin prints or writes."""

from __future__ import annotations

import re
from collections.abc import Iterable

from sqlalchemy.engine import URL

_USERINFO = re.compile(r"(?P<head>://[^:/@\s]*:)(?P<secret>[^@\s]+)(?P<tail>@)")
"""The password of `scheme://user:password@host`; starting at `://` lets the regex engine
skip ahead to that literal (a leading scheme pattern was retried at every word character)."""
MASK = "***"


def mask_url(url: URL | None) -> str:
    return "" if url is None else url.render_as_string(hide_password=True)


def scrub(text: str, secrets: Iterable[str] = ()) -> str:
    """Mask URL passwords and each known secret wherever they appear in `text`."""
    text = _USERINFO.sub(lambda m: m["head"] + MASK + m["tail"], text)
    for secret in secrets:
        if secret and len(secret) >= 3:
            text = text.replace(secret, MASK)
    return text
