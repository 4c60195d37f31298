"""The disclosure level of the request being answered (harmmap/disclosure.py).

The role is that of ``flask.g.principal`` (web/auth.py); a request with no principal gets the most
restricted level. Every body with figures in it, and every cache key and ETag of one, goes through here.
"""

from __future__ import annotations

from flask import g

from harmmap.disclosure import Disclosure
from web import services


def current() -> Disclosure:
    principal = getattr(g, "principal", None)
    return services().settings.disclosure_for(getattr(principal, "role", None))
