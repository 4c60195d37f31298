"""The synthetic police response's own driver: a ward-level **policing intensity**, so that where the police
act is not where harm is (docs/synthetic-data.md, "Policing intensity").

Before issue 18 closures and disruptions were drawn in proportion to real trafficking, so the demo's police
activity followed need exactly and could not show the difference the need x response view is for. Real
activity follows where forces choose to look: patrol patterns, town centres, standing operations, as much as
harm. The intensity of a ward is therefore

    log I = field_sd * F(ward centroid) + need_link * z_need + log(operation_multiplier) * [borough in operation]

* ``F``: a smooth random field over London (a Gaussian process with a squared-exponential kernel of length
  ``length_m``, drawn as random Fourier features; Rahimi & Recht 2007), standardised across the wards:
  neighbouring wards get similar intensity, as a patrol pattern would give them;
* ``z_need``: the ward's standardised log(shrunk trafficking rate per 1,000): a weak, documented link to need;
* a few "operation" boroughs drawn at random, where every ward's intensity is multiplied.

The intensity is scaled to a residents-weighted mean of 1, so the yearly totals of each kind stay as
calibrated; a kind's expected events in a ward are then ∝ residents × intensity (× its own factor, such as
cannabis factories' Outer London one). Pure apart from ``rng``.
"""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pandas as pd
import shapely

from synth.common import Calibration, Geography, shrunk_rate


def smooth_field(x: np.ndarray, y: np.ndarray, rng: np.random.Generator, length_m: float,
                 features: int = 200) -> np.ndarray:
    """A draw of a zero-mean Gaussian random field at points (metres), standardised over the points.

    Random Fourier features: ``sqrt(2/K) Σ cos(ω_k · p + b_k)`` with ``ω_k ~ N(0, I / length²)`` and
    ``b_k ~ U(0, 2π)`` approximates a Gaussian process with covariance ``exp(-d² / (2 length²))``.
    """
    omega = rng.normal(0.0, 1.0 / length_m, (features, 2))
    phase = rng.uniform(0.0, 2 * np.pi, features)
    pts = np.column_stack([np.asarray(x, float), np.asarray(y, float)])
    centre = pts.mean(axis=0)
    f = np.sqrt(2.0 / features) * np.cos((pts - centre) @ omega.T + phase).sum(axis=1)
    sd = f.std()
    return (f - f.mean()) / sd if sd > 0 else np.zeros_like(f)


def policing_intensity(wards: pd.DataFrame, rng: np.random.Generator,
                       cal: Calibration = Calibration()) -> tuple[pd.Series, tuple[str, ...]]:
    """Each ward's policing intensity (residents-weighted mean 1) and the boroughs drawn as operation boroughs.

    ``wards`` needs borough_code, population, trafficking and geom (EPSG:27700).
    """
    centroids = shapely.centroid(np.asarray(wards["geom"].to_numpy(), dtype=object))
    field = smooth_field(shapely.get_x(centroids), shapely.get_y(centroids), rng, cal.intensity_length_m)
    rate = shrunk_rate(wards["trafficking"], wards["population"], cal.shrink_weight)
    log_rate = np.log(rate.to_numpy(float))
    z_need = (log_rate - log_rate.mean()) / (log_rate.std() or 1.0)
    boroughs = sorted(wards["borough_code"].unique())
    k = min(cal.operation_boroughs, len(boroughs))
    operations = tuple(sorted(np.asarray(boroughs, dtype=object)[rng.choice(len(boroughs), size=k, replace=False)]))
    in_operation = wards["borough_code"].isin(operations).to_numpy()
    log_i = (cal.intensity_field_sd * field + cal.intensity_need_link * z_need
             + np.log(cal.operation_multiplier) * in_operation)
    intensity = np.exp(log_i)
    population = wards["population"].to_numpy(float)
    mean = (intensity * population).sum() / population.sum() if population.sum() > 0 else intensity.mean()
    return pd.Series(intensity / mean, index=wards.index, name="intensity"), operations


def with_intensity(geo: Geography, rng: np.random.Generator, cal: Calibration = Calibration()) -> Geography:
    """``geo`` with an ``intensity`` column on its wards and its operation boroughs (drawn from ``rng``)."""
    intensity, operations = policing_intensity(geo.wards, rng, cal)
    return replace(geo, wards=geo.wards.assign(intensity=intensity), operation_boroughs=operations)


def response_weights(wards: pd.DataFrame) -> pd.Series:
    """Expected police activity in a ward ∝ residents × policing intensity (not harm: see the module)."""
    return wards["population"] * wards["intensity"]
