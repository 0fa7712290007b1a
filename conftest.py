"""Root conftest: kept thin. pytest-microstack loads through its pytest11 entry point;
this project's layer on it is tests/conftest.py, and its stack is declared in pytest.ini."""

# make_httpserver on 127.0.0.1 for tests/unit and tests/tools: the one definition, which the
# plugin's own tests use too (pytest.ini's pythonpath puts pytest-microstack/tests on the path).
pytest_plugins = ["unit.local_httpserver"]
