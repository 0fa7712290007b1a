"""Root conftest: kept thin; the harness lives in tests/harness."""

pytest_plugins = ["tests.harness.plugin"]
