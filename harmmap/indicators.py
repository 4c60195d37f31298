"""The indicators HarmMap publishes per ward and period, and the default harm index weights.

Every indicator is put the "higher = more harm" way round before it is scored. Counts become rates per
1,000 residents (Census 2021 usual residents of the 2022 ward); PAS measures become an empirical-Bayes
percentage (see docs/methodology.md). The default weights are a documented judgement, not a published
standard: trafficking outweighs possession (as in the Cambridge Crime Harm Index, where supply carries far
longer sentences than possession; Sherman, Neyroud & Neyroud 2016), a crack house is direct evidence of
serious local harm, and residents' own view that drug dealing is a problem is weighted as one strand.
Police activity that does not itself indicate harm (asset seizures) and the confidence measure
(``pas_tackle_dealing``) are published and trended but weigh nothing by default. Weights are configuration:
``HARMMAP_INDEX_WEIGHTS="drug_trafficking=0.3,drug_possession=0.15,..."``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


@dataclass(frozen=True)
class Indicator:
    slug: str
    label: str
    #: "count": events, tested with a rate ratio; "value": pounds, not tested; "survey": PAS agree/respondents
    kind: str
    default_weight: float
    #: +1: more is worse (harm); -1: more is better (confidence). The index always uses "more harm".
    harm_direction: int = 1
    #: Source of the monthly figures (harm.indicator_month) or the PAS measure name (etl.pas_result).
    source: str = ""


INDICATORS: tuple[Indicator, ...] = (
    Indicator("drug_trafficking", "Drug trafficking offences", "count", 0.30, source="drug_trafficking"),
    Indicator("drug_possession", "Drug possession offences", "count", 0.15, source="drug_possession"),
    Indicator("crack_house_closures", "Crack house closures", "count", 0.20, source="crack_house_closures"),
    Indicator("cannabis_factory_closures", "Cannabis factory closures", "count", 0.10,
              source="cannabis_factory_closures"),
    Indicator("network_disruptions", "Drug network disruptions", "count", 0.10, source="network_disruptions"),
    Indicator("pas_drug_problem", "PAS: drug use or dealing is a problem", "survey", 0.15, source="drug_problem"),
    Indicator("pas_tackle_dealing", "PAS: police tackle drug dealing well", "survey", 0.0, harm_direction=-1,
              source="tackle_dealing"),
    Indicator("asset_seizures", "Asset seizures (POCA)", "count", 0.0, source="asset_seizures"),
    Indicator("asset_seizure_value_gbp", "Asset seizure value (GBP)", "value", 0.0, source="asset_seizure_value_gbp"),
)
BY_SLUG: dict[str, Indicator] = {i.slug: i for i in INDICATORS}
DEFAULT_WEIGHTS: dict[str, float] = {i.slug: i.default_weight for i in INDICATORS if i.default_weight > 0}


class WeightsError(ValueError):
    """Malformed index weights; the message names the setting."""


def parse_weights(text: str) -> dict[str, float]:
    """``"drug_trafficking=0.3, pas_drug_problem=0.2"`` -> weights; empty text -> the defaults.

    Indicators not named weigh 0. Weights need not sum to 1: the index renormalises them.
    """
    if not text.strip():
        return dict(DEFAULT_WEIGHTS)
    weights: dict[str, float] = {}
    for part in text.replace(";", ",").split(","):
        if not part.strip():
            continue
        name, sep, value = part.partition("=")
        name = name.strip()
        if not sep or name not in BY_SLUG:
            raise WeightsError(f"HARMMAP_INDEX_WEIGHTS: {part.strip()!r} is not indicator=weight "
                               f"(indicators: {', '.join(BY_SLUG)})")
        try:
            w = float(value)
        except ValueError:
            raise WeightsError(f"HARMMAP_INDEX_WEIGHTS: weight {value.strip()!r} for {name} is not a number") from None
        if not w >= 0:
            raise WeightsError(f"HARMMAP_INDEX_WEIGHTS: weight for {name} must be 0 or more, not {w}")
        weights[name] = w
    weights = {k: v for k, v in weights.items() if v > 0}
    if not weights:
        raise WeightsError("HARMMAP_INDEX_WEIGHTS: at least one indicator needs a weight above 0")
    return weights


def describe_weights(weights: Mapping[str, float]) -> str:
    total = sum(weights.values())
    return ", ".join(f"{k} {v / total:.0%}" for k, v in sorted(weights.items(), key=lambda kv: -kv[1]))
