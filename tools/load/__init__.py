"""The load run's parts: seeding the catalogue, wrk, the locust flow, CPU figures, the report.

`nox -s load` runs tests/load/test_load.py, which drives them against a stack of its own.
"""
