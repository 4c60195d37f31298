"""The ETL's SQL, one statement per ``<name>.sql`` file beside this one (``%(param)s`` placeholders; a
``{name}`` in a file is an identifier filled in with ``psycopg.sql``, never text)."""

from __future__ import annotations

import functools
from importlib import resources


@functools.cache
def query(name: str) -> str:
    """The text of ``etl/queries/<name>.sql``, read once per process."""
    return resources.files(__name__).joinpath(f"{name}.sql").read_text(encoding="utf-8")
