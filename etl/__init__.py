"""The ETL: reference geography (``geo.py``, ``crosswalk.py``) and the indicator jobs, one module per source
kind in ``kinds/``, each read -> check -> place -> publish, run as one batch by ``batch.py`` with the
shared ``readers``, ``checks``, ``placing`` and ``quarantine``; its SQL in ``queries/*.sql``. The harm
index publish is ``index.py``. See docs/architecture.md, "Indicator jobs"."""
