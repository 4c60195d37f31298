"""Writing a synthetic table as the file an analyst would hand over (CSV, GeoJSON, XLSX), byte for byte
the same for the same rows, and the ``_expected_quarantine_<kind>.csv`` sidecar naming its bad rows."""

from __future__ import annotations

import csv
import io
import json
import re
import zipfile
from datetime import date, datetime
from pathlib import Path
from typing import Any

from synth.common import Table

EXPECTED_COLUMNS = ["line_or_feature", "defect"]
#: Fixed timestamp written into the XLSX package, so a seed gives the same bytes every time.
XLSX_TIMESTAMP = datetime(2000, 1, 1)


def _text(value: Any) -> str:
    if value is None:
        return ""
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, date):
        return value.isoformat()
    return str(value)


def write_csv(table: Table, path: Path) -> None:
    """UTF-8, header first, ``\\n`` line ends; None is an empty cell, booleans ``true``/``false``."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(table.columns)
        for row in table.rows:
            w.writerow([_text(row.get(c)) for c in table.columns])


def write_geojson(table: Table, path: Path) -> None:
    """RFC 7946 GeoJSON (WGS84 lon/lat), one feature per line for readable diffs."""
    features = ",\n".join(json.dumps(f, ensure_ascii=False, separators=(",", ":")) for f in table.rows)
    path.write_text('{"type":"FeatureCollection","features":[\n' + features + "\n]}\n", encoding="utf-8")


def write_xlsx(table: Table, path: Path) -> None:
    """One sheet, header in row 1, dates as date cells. The package's timestamps are fixed
    (:data:`XLSX_TIMESTAMP`), so the same rows give the same bytes."""
    from openpyxl import Workbook

    wb = Workbook()
    ws = wb.active
    ws.title = table.kind
    ws.append(table.columns)
    for row in table.rows:
        ws.append([row.get(c) for c in table.columns])
    for cell in ws["B"][1:]:
        if isinstance(cell.value, date):
            cell.number_format = "yyyy-mm-dd"
    wb.properties.creator = "harmmap synth (synthetic data)"
    buffer = io.BytesIO()
    wb.save(buffer)
    _normalise_zip(buffer.getvalue(), path)


def _normalise_zip(data: bytes, path: Path) -> None:
    stamp = XLSX_TIMESTAMP.strftime("%Y-%m-%dT%H:%M:%SZ")
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as out:
        for info in src.infolist():
            content = src.read(info.filename)
            if info.filename == "docProps/core.xml":
                content = re.sub(rb"(<dcterms:(?:created|modified)[^>]*>)[^<]*(<)",
                                 rb"\g<1>" + stamp.encode() + rb"\g<2>", content)
            entry = zipfile.ZipInfo(info.filename, date_time=XLSX_TIMESTAMP.timetuple()[:6])
            entry.compress_type = zipfile.ZIP_DEFLATED
            entry.external_attr = 0o600 << 16
            out.writestr(entry, content)


def expected_quarantine_path(out_dir: Path, kind: str) -> Path:
    """Named with a leading ``_`` so ``harmmap etl run-all`` skips it."""
    return out_dir / f"_expected_quarantine_{kind}.csv"


def write_expected(table: Table, path: Path) -> None:
    """The sidecar: each bad row's line (or feature) and its one defect, in file order."""
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(EXPECTED_COLUMNS)
        for i in sorted(table.expected):
            w.writerow([table.place(i), table.expected[i]])
