"""HarmMap benchmarks: ``python -m bench [names...]`` (``make bench`` sets up the database first).

Each benchmark is a module here with one function (found by ``python -m bench`` on its own)::

    def run(settings: Settings, points: int = 1_000_000) -> str

called as ``run(settings, points)``, that measures against the database in ``settings`` (reference data already loaded) and returns one
Markdown section for ``bench/RESULTS.md``. Compare methods within one run: the machines are shared
and noisy, so ratios measured side by side mean something and absolute seconds do not.
"""
