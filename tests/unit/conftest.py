"""Unit tests of this project's layer (factories): HTTP on 127.0.0.1 only, no Docker.

`make_httpserver` (on 127.0.0.1) comes from the root conftest.py: unit.local_httpserver.
"""
