"""Root conftest: kept thin. pytest-microstack loads through its pytest11 entry point;
this project's layer on it is tests/conftest.py, and its stack is declared in pytest.ini."""
