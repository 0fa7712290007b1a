"""The soak: many integration runs of this repository's suite, some killed; then 0 leaks, 0 flakes.

A test of the plugin's cleanup, run as `nox -s soak` (`python -m tools.soak`).
"""
