"""Carry ward-coded counts from one ward vintage to another with the weights in geo.crosswalk."""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path

import pandas as pd
import psycopg
from psycopg import sql

from etl.queries import query

WARD_CODE = re.compile(r"^E05\d{6}$")


class CrosswalkError(ValueError):
    """The file or the vintages cannot be converted; the message names the row and the problem."""


@dataclass
class Converted:
    frame: pd.DataFrame
    summary: str


def weights(conn: psycopg.Connection, from_vintage: int, to_vintage: int, kind: str = "population") -> pd.DataFrame:
    """The crosswalk as a frame (from_code, to_code, weight). A chain (2014->2022) is composed via 2018."""
    if kind not in ("population", "area"):
        raise CrosswalkError(f"weights must be 'population' or 'area', not {kind!r}")
    column = sql.Identifier(f"{kind}_weight")
    pairs = {(r["from_vintage"], r["to_vintage"]) for r in conn.execute(query("crosswalk_pairs"))}
    if (from_vintage, to_vintage) in pairs:
        rows = conn.execute(sql.SQL(query("crosswalk_weights")).format(weight=column),
                            {"from": from_vintage, "to": to_vintage}).fetchall()
        return pd.DataFrame(rows, columns=["from_code", "to_code", "weight"])
    # Compose through an intermediate vintage (e.g. 2014 -> 2018 -> 2022).
    for a, b in sorted(pairs):
        if a == from_vintage and (b, to_vintage) in pairs:
            first, second = weights(conn, a, b, kind), weights(conn, b, to_vintage, kind)
            chained = first.merge(second, left_on="to_code", right_on="from_code", suffixes=("", "_2"))
            chained["weight"] = chained["weight"] * chained["weight_2"]
            out = chained.groupby(["from_code", "to_code_2"], as_index=False)["weight"].sum()
            return out.rename(columns={"to_code_2": "to_code"})
    raise CrosswalkError(f"no crosswalk from {from_vintage} to {to_vintage} wards "
                         f"(available: {', '.join(f'{a}->{b}' for a, b in sorted(pairs)) or 'none; run harmmap geo load'})")


def convert(conn: psycopg.Connection, frame: pd.DataFrame, code_column: str, from_vintage: int,
            to_vintage: int, kind: str = "population", source: str = "input") -> Converted:
    """Numeric count columns are shared out by weight and summed per target ward; totals are kept.

    Rows are named by their line in the file (the header is line 1). A missing count is an error,
    not a zero; true/false columns are flags, not counts, and are left out.
    """
    if code_column not in frame.columns:
        raise CrosswalkError(f"{source}: no column {code_column!r}; columns are {', '.join(frame.columns)}")
    known = {r["ward_code"] for r in conn.execute(query("crosswalk_codes"), {"vintage": from_vintage})}
    if not known:
        raise CrosswalkError(f"no {from_vintage} wards are loaded (run harmmap geo load)")
    codes = frame[code_column].astype(str).str.strip()
    for i, code in enumerate(codes):
        if code not in known:
            raise CrosswalkError(f"{source}: line {i + 2}: {code!r} is not a {from_vintage} ward code")
    if codes.duplicated().any():
        i = int(codes.reset_index(drop=True)[codes.reset_index(drop=True).duplicated()].index[0])
        raise CrosswalkError(f"{source}: line {i + 2}: ward {codes.iloc[i]} appears twice (one row per ward, please)")
    numeric = [c for c in frame.columns if c != code_column and pd.api.types.is_numeric_dtype(frame[c])
               and not pd.api.types.is_bool_dtype(frame[c])]
    if not numeric:
        raise CrosswalkError(f"{source}: no numeric count columns to convert")
    for c in numeric:
        missing = frame[c].isna().to_numpy()
        if missing.any():
            i = int(missing.nonzero()[0][0])
            raise CrosswalkError(f"{source}: line {i + 2}: {c} is empty (write 0 if the count is zero)")
    w = weights(conn, from_vintage, to_vintage, kind)
    data = frame.assign(**{code_column: codes})[[code_column, *numeric]]
    joined = data.merge(w, left_on=code_column, right_on="from_code")
    for c in numeric:
        joined[c] = joined[c] * joined["weight"]
    out = joined.groupby("to_code", as_index=False)[numeric].sum()
    names = pd.DataFrame(conn.execute(query("crosswalk_names"), {"vintage": to_vintage}).fetchall(),
                         columns=["to_code", "ward_name", "borough_name"])
    out = names.merge(out, on="to_code", how="left").fillna({c: 0.0 for c in numeric})
    out = out.rename(columns={"to_code": "ward_code"}).sort_values("ward_code").reset_index(drop=True)
    totals = ", ".join(f"{c} {frame[c].sum():,.6g} -> {out[c].sum():,.6g}" for c in numeric)
    return Converted(out, f"converted {len(frame)} {from_vintage} wards to {len(out)} {to_vintage} wards "
                          f"({kind} weights); totals {totals}")


def convert_file(conn: psycopg.Connection, path: Path, from_vintage: int, to_vintage: int, *,
                 weights: str = "population", code_column: str | None = None) -> Converted:
    try:
        frame = pd.read_csv(path)
    except (OSError, UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as e:
        raise CrosswalkError(f"{path.name}: cannot read it as CSV: {e}") from None
    if code_column is None:
        candidates = [c for c in frame.columns
                      if frame[c].astype(str).str.strip().str.match(WARD_CODE.pattern).mean() > 0.9]
        if not candidates:
            raise CrosswalkError(f"{path.name}: no column of ward codes (E05...) found; name it with --code-column")
        code_column = candidates[0]
    return convert(conn, frame, code_column, from_vintage, to_vintage, weights, source=path.name)
