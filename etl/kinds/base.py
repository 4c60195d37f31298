"""What every source kind is made of: a ``prepare`` (read table -> checked, placed records and the rows
that were not) and a ``publish`` (records -> the record table and the published aggregates, in the
batch's transaction). :mod:`etl.batch` runs them; :mod:`etl.kinds` lists them."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import psycopg
import pyarrow as pa

from etl.placing import Geography
from etl.quarantine import Rejected
from etl.readers import SourceTable


@dataclass
class Chunk:
    """Good records from one slice of a file: column -> values (Arrow text or numpy), and their rows."""

    columns: dict[str, Any]
    positions: np.ndarray  # row index in the source table

    def __len__(self) -> int:
        return len(self.positions)

    def without(self, drop: np.ndarray) -> Chunk:
        """The chunk less the rows in ``drop`` (a mask)."""
        keep = ~drop
        return Chunk({k: take(v, keep) for k, v in self.columns.items()}, self.positions[keep])


def take(values: Any, mask: np.ndarray) -> Any:
    """The values (Arrow or numpy) where ``mask`` is true."""
    return values.filter(pa.array(mask)) if isinstance(values, pa.Array) else values[mask]


@dataclass
class Prepared:
    """A file checked and located: records ready to stage, and the rows that were not.

    Single-location kinds (closures, seizures) give ``chunks`` instead of ``records``: the file is
    checked a slice at a time *while* it is written, and ``rejected`` fills up as the chunks are read.
    ``source`` is the table they came from: publish quarantines rows an earlier batch loaded, with
    their place and raw row from it.
    """

    source: SourceTable
    records: pd.DataFrame | None
    rejected: list[Rejected]
    children: pd.DataFrame | None = None
    #: Facts about the file recorded in ``etl.batch.notes`` (months or years held, timings).
    notes: dict[str, Any] = field(default_factory=dict)
    chunks: Iterator[Chunk] | None = None
    any_synthetic: bool = False

    @property
    def synthetic(self) -> bool:
        if self.records is None:
            return self.any_synthetic
        return bool("synthetic" in self.records and self.records["synthetic"].any())


Prepare = Callable[[SourceTable, Geography, date], Prepared]
#: Writes the records in the caller's transaction; returns rows found only then to be unloadable
#: (a source_id an earlier batch loaded), to be quarantined with the rest.
Publish = Callable[[psycopg.Connection, int, Prepared], list[Rejected]]


@dataclass(frozen=True)
class Kind:
    """One source kind: its name (the ``etl run`` argument and ``etl.batch.job``), what it is, its two
    steps, and the names its files start with besides its own (for ``run-all``)."""

    name: str
    description: str
    prepare: Prepare
    publish: Publish
    file_prefixes: tuple[str, ...] = ()
