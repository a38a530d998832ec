"""Helpers shared by the tests and the benchmarks: a webhook receiver, a live server, databases.

Kept apart from `tests/` so that `bench/` never imports the test suite.
"""
