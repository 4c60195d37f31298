"""The source kinds, one module each (docs/data-contracts.md): what ``harmmap etl run KIND FILE`` accepts,
and how ``run-all`` tells a file's kind from its name."""

from __future__ import annotations

import re
from pathlib import Path

from etl.errors import EtlError
from etl.kinds import closures, disruptions, mps_lsoa_drug_annual, mps_ward_crime, pas, seizures, stop_search
from etl.kinds.base import Kind

#: In the order ``etl run --help`` and the messages list them.
KINDS: dict[str, Kind] = {m.KIND.name: m.KIND for m in (
    mps_ward_crime, mps_lsoa_drug_annual, closures, disruptions, pas, seizures, stop_search)}
#: police.uk names its monthly files ``2016-06-metropolitan-stop-and-search.csv``.
POLICE_UK_STOP_SEARCH = re.compile(r"^\d{4}-\d{2}-[a-z0-9-]+-stop-and-search\.")


def kind(name: str) -> Kind:
    """The kind called ``name``; EtlError (listing the kinds) if there is none."""
    if name not in KINDS:
        raise EtlError(f"unknown kind {name!r}: one of {', '.join(KINDS)}")
    return KINDS[name]


def kind_of_file(path: Path) -> str | None:
    """``run-all`` picks a file's kind from its name: it must start with the kind (``closures_2025.csv``),
    or with a name its publisher gives it (``mps_ward_level_crime...``, police.uk's
    ``2016-06-metropolitan-stop-and-search.csv``). The longest match wins."""
    stem = path.name.lower()
    if POLICE_UK_STOP_SEARCH.match(stem):
        return stop_search.KIND.name
    prefixes = [(k.name, k.name) for k in KINDS.values()]
    prefixes += [(prefix, k.name) for k in KINDS.values() for prefix in k.file_prefixes]
    for prefix, name in sorted(prefixes, key=lambda p: len(p[0]), reverse=True):
        if stem.startswith(prefix):
            return name
    return None
