"""The repository's runnable tools: what nox sessions and CI run besides the tests.

Their tests are under tests/ (tests/tools, tests/ci, tests/load), importing them from here.
"""
