"""A pytest harness that runs the compose stack for integration tests.

The pytest plugin (fixtures, options, hooks) lives in `tests.harness.plugin`;
everything it drives is plain Python with no pytest in it, so the lifecycle
can be unit-tested with the engine faked.
"""
