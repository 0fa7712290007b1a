"""The plugin's own tests. example_project/ is an outside project, run only through pytester."""

pytest_plugins = ["pytester"]
collect_ignore = ["example_project"]
