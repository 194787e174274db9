"""Benchmarks: measured cost and speed of healthexporter against its GitHub simulator.

Run them as modules (``python -m bench.sync_cost``); results and how to read them are in
``docs/benchmarks.md``.
"""
