"""The plugin's own tests. example_project/ is an outside project, run only through pytester."""

# unit.local_httpserver: make_httpserver on 127.0.0.1, shared with the repository's unit tests.
pytest_plugins = ["pytester", "unit.local_httpserver"]
collect_ignore = ["example_project"]
