"""This project's layer on pytest-microstack: factories and its own faults."""
