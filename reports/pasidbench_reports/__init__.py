"""Comparative reports over pasidbench result files (results.jsonl,
schema versions 1 and 2).

Modules, one concern each (docs/reports.md, "Modules"):
  load          read and validate result files into ResultSets
  stats         summaries, percent change, bootstrap CI, Mann-Whitney U
  compare       line up metrics and conformance outcomes across sets
  rows          the statistic rows of a metric block, by kind of numbers
  outcomes      what a run makes of a conformance record
  environment   environment records in short
  text          72-column text made safe from result strings
  summary       the one-screen summary
  table         the plain-text table for mail (<= 72 columns)
  mmtests_rows  compare-mmtests.pl's row layout
  mail          the whole plain-text message (--mail)
  plots         matplotlib figures (PNG + SVG), sweeps included
  html          the HTML page
  cli           the command line (reports/pasidbench_report.py)
"""
