"""`nox -s mutation`: mutmut over the safety-critical modules, scored per module."""
