"""Reports of a run: for people (console), for programs (JSON) and for CI (JUnit XML)."""
