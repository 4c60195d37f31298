"""SYNTHETIC demo data for the four source kinds no public source gives at ward level: premises closures,
network disruptions, ward-level PAS results and asset seizures; and stop and search for the demo months in
police.uk's own format (``harmmap synth``). Every row says it is synthetic (``synthetic`` = true, or the
policing operation ``SYNTHETIC`` where police.uk's header has no such column), and the numbers are
calibrated on real facts (docs/synthetic-data.md).

Police activity (closures, disruptions, seizures, searches) is drawn from its own ward-level policing
intensity, not from harm, so that the demo can show need and response apart.

Not part of the production ETL: it writes files in the data contracts, which ``harmmap etl run-all``
then loads like any analyst's file; it never imports ``etl``.

- :mod:`synth.dataset`: the whole set from one seed (``write_all``), and the example files (``write_examples``);
- :mod:`synth.intensity`: the policing intensity the response kinds are drawn from;
- :mod:`synth.closures`, :mod:`synth.disruptions`, :mod:`synth.pas`, :mod:`synth.seizures`,
  :mod:`synth.stop_search`: one kind each;
- :mod:`synth.common`: the calibration, the real geography, rates, dates, points, tables and bad rows;
- :mod:`synth.files`: CSV, GeoJSON and XLSX written byte for byte the same, and the sidecars;
- :mod:`synth.cli`: the ``harmmap synth`` command.
"""
