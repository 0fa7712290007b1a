"""Unit tests of the repository's tools (tools/): files and 127.0.0.1 only, no Docker.

`make_httpserver` (on 127.0.0.1) comes from the root conftest.py: unit.local_httpserver.
"""
