"""Map classes: how a layer's figures are cut into the colour classes a legend shows.

Pure functions (arrays in, plain lists out), shared by the tasking map's JSON, the page's first view
and anything else that draws a legend, so a ward's class is decided once. Colours are ColorBrewer YlOrRd
(colour-blind safe, and in print the classes stay in order in greyscale).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

#: ColorBrewer YlOrRd, 5 classes, worst first (colour-blind safe, prints in greyscale in order).
YLORRD = ("#bd0026", "#f03b20", "#fd8d3c", "#fecc5c", "#ffffb2")
#: The class of wards whose count is shown as "fewer than 5" (harmmap/disclosure.py): a light purple, off the
#: YlOrRd ramp, because its rate is not known to the reader and may sit in any class.
SUPPRESSED_COLOR = "#cbc9e2"
#: The harm index legend: decile groups in words a tasking officer reads, worst first.
DECILE_GROUPS = (("Worst 10%", (1,)), ("10–20%", (2,)), ("20–40%", (3, 4)), ("40–70%", (5, 6, 7)),
                 ("Least harm 30%", (8, 9, 10)))
_GROUP_OF_DECILE = {d: k for k, (_, ds) in enumerate(DECILE_GROUPS) for d in ds}


def _ramp(n: int) -> list[str]:
    """n colours of the 5-class YlOrRd ramp, worst first, as far apart as the classes allow."""
    if n <= 1:
        return [YLORRD[2]] * n
    return [YLORRD[round(j * (len(YLORRD) - 1) / (n - 1))] for j in range(n)]


def _format_range(lo: float, hi: float, kind: str, places: int) -> str:
    def one(x: float) -> str:
        text = f"{x:,.{places}f}"
        return f"£{text}" if kind == "value" else text

    body = one(lo) if one(lo) == one(hi) else f"{one(lo)}–{one(hi)}"
    return f"{body}%" if kind == "survey" else f"{body} per 1,000"


def quantile_classes(values: Sequence[float] | np.ndarray, *, kind: str,
                     higher_is_worse: bool = True) -> tuple[list[dict[str, Any]], np.ndarray]:
    """Up to 5 quantile classes of ``values`` (NaN ignored), worst first, and each value's class (-1: none).

    Breaks are the 20/40/60/80% quantiles. When zeros fill the lowest break (sparse counts: most wards
    had no closure), zero becomes a class of its own, labelled "0", and the wards above zero are split at
    their own quartiles. Breaks that coincide are merged, so fewer than 5 classes can come back; an empty
    class is never returned. Labels give each class's actual range in the layer's unit.
    """
    x = np.asarray(values, dtype=float)
    valid = np.isfinite(x)
    group = np.full(x.shape, -1)
    if not valid.any():
        return [], group
    v = x[valid]
    if (v == 0).any() and np.quantile(v, 0.2) <= 0:
        positive = v[v > 0]
        edges = np.unique(np.quantile(positive, [0.25, 0.5, 0.75])) if positive.size else np.array([])
        g_valid = np.where(v > 0, np.searchsorted(edges, v, side="left") + 1, 0)
        zero_class = True
    else:
        edges = np.unique(np.quantile(v, [0.2, 0.4, 0.6, 0.8]))
        g_valid = np.searchsorted(edges, v, side="left")
        zero_class = False
    used = np.unique(g_valid)                       # ascending, non-empty groups only
    renumber = {old: new for new, old in enumerate(used)}
    g_valid = np.array([renumber[k] for k in g_valid])
    bounds = [(float(v[g_valid == k].min()), float(v[g_valid == k].max()), int((g_valid == k).sum()))
              for k in range(len(used))]
    places = 0 if max(abs(b[1]) for b in bounds) >= 100 else 1
    while True:
        labels = ["0" if zero_class and k == 0 else _format_range(lo, hi, kind, places)
                  for k, (lo, hi, _) in enumerate(bounds)]
        if len(set(labels)) == len(labels) or places >= 3:
            break
        places += 1
    order = list(range(len(used)))[::-1] if higher_is_worse else list(range(len(used)))  # worst first
    colours = _ramp(len(order))
    classes = [{"label": labels[a], "color": colours[j], "min": bounds[a][0], "max": bounds[a][1],
                "count": bounds[a][2]} for j, a in enumerate(order)]
    position = {a: j for j, a in enumerate(order)}
    group[valid] = [position[k] for k in g_valid]
    return classes, group


def decile_classes(scores: Sequence[float | None],
                   deciles: Sequence[int | None]) -> tuple[list[dict], list[int | None]]:
    """The harm index legend: 5 decile groups (worst first) with the score range each holds, and each
    ward's group (None when it has no decile in scope)."""
    k = [None if d is None else _GROUP_OF_DECILE.get(int(d)) for d in deciles]
    classes = []
    for j, (label, ds) in enumerate(DECILE_GROUPS):
        members = [s for s, kk in zip(scores, k) if kk == j and s is not None]
        classes.append({"label": label, "color": YLORRD[j], "min": min(members) if members else None,
                        "max": max(members) if members else None, "count": len(members), "deciles": list(ds)})
    return classes, k
