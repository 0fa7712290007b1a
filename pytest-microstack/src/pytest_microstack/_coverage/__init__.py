"""Coverage of the services' own code, measured inside their containers (`--stack-coverage`).

Nothing here is imported unless coverage is asked for. The parts, in the order
a run uses them:

- `runtime`: the folder mounted read-only into every measured container: this
  environment's coverage.py and a `sitecustomize` that starts it in every Python
  process (images are not changed);
- `mount`: what the compose override adds per service (the mounts, PYTHONPATH,
  COVERAGE_PROCESS_START) and the generated coverage rcfile;
- `collect`: after start-up, which services run Python and whether coverage
  could start there; at the end, a graceful stop so every process saves its data;
- `combine`: container paths mapped to source paths by the project's own
  `[paths]`, joined to pytest-cov's data or written for `coverage combine`,
  with each line's contexts;
- `agent` (in the containers) and `contexts` (here): per-test contexts, switched
  at each test phase that `_boundaries` announces (hooks: `_session.phases`);
- `measurement`: the one object the lifecycle holds, tying these together.
"""
