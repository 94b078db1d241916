"""Benchmarks: `python -m bench <name>` (sync, issue, dashboard). Not timed tests: they print figures."""
