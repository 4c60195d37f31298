"""The indicators HarmMap publishes per ward and period, in the strategy's three families, and the default
harm index weights.

The force's drugs strategy sets its targets on two Public Attitude Survey measures and keeps police activity
as a diagnostic, "not targets", used to explain why confidence moved. HarmMap keeps the three apart:

* **need** (harm): recorded drug trafficking and possession offences, and residents saying drug use or
  dealing is a problem (PAS). The default harm index is built from these only.
* **response** (police activity, diagnostic): crack house and cannabis factory closures, drug network
  disruptions, asset seizures (recoveries, and their value) and stop and search for drugs. Shown against
  need ("activity per 100 trafficking offences"), never counted as harm by default: a ward must not rank
  higher because the police already acted there. A response indicator enters the index only through
  explicit weights (``HARMMAP_INDEX_WEIGHTS``), and every surface then says so.
* **confidence** (outcome, the targets): "the police tackle drug dealing well", and "drug use or dealing is
  a problem" read as an outcome too (it appears in need and in confidence, and every surface says so).

Default weights (a documented judgement, not a published standard; docs/methodology.md): trafficking
0.55, PAS "problem" 0.30, possession 0.15. Recorded offences are partly police-generated: possession most
of all, since most possession offences are found by stop and search, so it weighs least and is labelled as
sensitive to proactive policing; trafficking (supply) is mostly reported or found by investigation and
carries the harm the Cambridge Crime Harm Index weights far above possession (Sherman, Neyroud & Neyroud
2016); the PAS measure is residents' own view, independent of where police choose to act. Counts become
rates per 1,000 residents (Census 2021 usual residents of the 2022 ward); PAS measures become an
empirical-Bayes percentage. Weights are configuration:
``HARMMAP_INDEX_WEIGHTS="drug_trafficking=0.55,drug_possession=0.15,pas_drug_problem=0.30"``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass


#: The strategy's three families, in the order surfaces list them.
FAMILIES = ("need", "response", "confidence")
FAMILY_LABELS = {"need": "Need (harm)", "response": "Police response (diagnostic)",
                 "confidence": "Confidence (the strategy's targets)"}


@dataclass(frozen=True)
class Indicator:
    slug: str
    label: str
    #: "need", "response" or "confidence" (FAMILIES)
    family: str
    #: "count": events, tested with a rate ratio; "value": pounds, not tested; "survey": PAS agree/respondents
    kind: str
    default_weight: float
    #: +1: more is worse (harm); -1: more is better (confidence). The index always uses "more harm".
    harm_direction: int = 1
    #: Source of the monthly figures (harm.indicator_month) or the PAS measure name (etl.pas_result).
    source: str = ""
    #: A caution every surface shows beside the indicator (e.g. possession: found mostly by stop and search).
    caveat: str = ""
    #: Also read in another family (PAS "problem": need, and an outcome of the strategy).
    also: str = ""


POLICE_SENSITIVE = ("Sensitive to proactive policing: most possession offences are found by stop and search, "
                    "so more searching records more possession.")

INDICATORS: tuple[Indicator, ...] = (
    # need (harm)
    Indicator("drug_trafficking", "Drug trafficking offences", "need", "count", 0.55, source="drug_trafficking"),
    Indicator("drug_possession", "Drug possession offences", "need", "count", 0.15, source="drug_possession",
              caveat=POLICE_SENSITIVE),
    Indicator("pas_drug_problem", "PAS: drug use or dealing is a problem", "need", "survey", 0.30,
              source="drug_problem", also="confidence"),
    # response (police activity, diagnostic)
    Indicator("crack_house_closures", "Crack house closures", "response", "count", 0.0, source="crack_house_closures"),
    Indicator("cannabis_factory_closures", "Cannabis factory closures", "response", "count", 0.0,
              source="cannabis_factory_closures"),
    Indicator("network_disruptions", "Drug network disruptions", "response", "count", 0.0,
              source="network_disruptions"),
    Indicator("asset_seizures", "Asset seizures (POCA)", "response", "count", 0.0, source="asset_seizures"),
    Indicator("asset_seizure_value_gbp", "Asset seizure value (GBP)", "response", "value", 0.0,
              source="asset_seizure_value_gbp"),
    Indicator("drug_searches", "Stop and search for drugs", "response", "count", 0.0, source="drug_searches"),
    # confidence (outcome, the targets)
    Indicator("pas_tackle_dealing", "PAS: police tackle drug dealing well", "confidence", "survey", 0.0,
              harm_direction=-1, source="tackle_dealing"),
)
BY_SLUG: dict[str, Indicator] = {i.slug: i for i in INDICATORS}
DEFAULT_WEIGHTS: dict[str, float] = {i.slug: i.default_weight for i in INDICATORS if i.default_weight > 0}
#: The police activity counted against need (activity per 100 trafficking offences): counts of actions.
ACTIVITY = tuple(i.slug for i in INDICATORS if i.family == "response" and i.kind == "count")


def by_family(family: str) -> tuple[Indicator, ...]:
    return tuple(i for i in INDICATORS if i.family == family)


def response_weighted(weights: Mapping[str, float]) -> list[str]:
    """The response indicators a set of weights puts into the index (none by default): every surface that
    shows such an index says so, because then a ward ranks higher where the police already act."""
    return [k for k, w in weights.items() if w > 0 and k in BY_SLUG and BY_SLUG[k].family == "response"]


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
