"""Benchmarks of the whole Concierge process against the local fake Bot API.

``python -m bench`` (``make bench``) starts the fake Bot API server of the tests
(``tests/fakebotapi.py``) and the real ``concierge run`` process, drives simulated guests and
staff over HTTP, and prints one table per database (SQLite, PostgreSQL) with each measure next
to its goal. ``python -m bench --help`` lists the options; ``docs/benchmarks.md`` explains the
measures and the latest results.
"""
