"""Comparative reports over pasidbench result files (results.jsonl, schema v1).

Modules, one concern each:
  load     read and validate result files into ResultSets
  stats    summaries, percent change, bootstrap CI, Mann-Whitney U
  compare  line up metrics and conformance outcomes across sets
  table    the plain-text table for mail (<= 72 columns)
  plots    matplotlib figures (PNG + SVG)
  html     the self-contained HTML page
  cli      the command line (reports/pasidbench_report.py)
"""
