"""Benchmarks of the stack and the harness: `nox -s bench` (a script, not a test)."""
