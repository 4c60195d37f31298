"""The tasking map's URL state is read the same way by the page's first view (Python) and by the script
(JavaScript, in real Chromium): one table of cases, tests/data/url_state_cases.json, tests both."""

from __future__ import annotations

import json
from pathlib import Path
from urllib.parse import parse_qsl

import pytest
from werkzeug.datastructures import MultiDict

from harmmap.scoring import WorstRule
from web.map_pages import initial_view

CASES = json.loads((Path(__file__).parent / "data" / "url_state_cases.json").read_text(encoding="utf-8"))
IDS = [c["query"] or "(none)" for c in CASES["cases"]]


def _python_view(query: str) -> dict:
    values, worst = initial_view(CASES["meta"], MultiDict(parse_qsl(query, keep_blank_values=True)))
    view = {"period": values["period"], "layer": values["layer"], "borough": values["borough"], "rule": worst["rule"]}
    if "n" in worst:
        view["n"] = int(worst["n"])
    if "threshold" in worst:
        view["threshold"] = float(worst["threshold"])
    return view


@pytest.mark.parametrize("case", CASES["cases"], ids=IDS)
def test_the_pages_first_view_reads_the_url_as_the_table_says(case):
    assert _python_view(case["query"]) == case["view"]


def _script_view(state: dict) -> dict:
    view = {k: state[k] for k in ("period", "layer", "borough", "rule")}
    if state["rule"] == "top_n":
        view["n"] = state["n"]
    if state["rule"] == "threshold":
        view["threshold"] = state["threshold"]
    return view


@pytest.mark.db
@pytest.mark.browser
def test_the_script_reads_the_url_as_the_table_says(browser, live_server, demo_index):
    context = browser.new_context(as_role="viewer")
    page = context.new_page()
    try:
        page.goto(live_server + "/", wait_until="load")
        states = page.evaluate(
            "([cases, meta, rules]) => cases.map(c => HarmMap.viewFromQuery('?' + c.query, meta, rules).state)",
            [CASES["cases"], CASES["meta"], WorstRule.limits()])
    finally:
        context.close()
    got = {c["query"] or "(none)": _script_view(s) for c, s in zip(CASES["cases"], states)}
    want = {c["query"] or "(none)": c["view"] for c in CASES["cases"]}
    assert got == want
