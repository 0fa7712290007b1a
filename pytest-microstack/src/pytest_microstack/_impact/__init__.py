"""`--stack-impact BASE`: run only the tests a change needs, from the contexts of a recording.

The parts, in the order a run uses them:

- `recording`: what a `--stack-coverage` run saves: which tests ran each line of the
  services' code inside the containers (from the per-test contexts), which tests
  passed, and the commit it was made on;
- `changes`: the diff from BASE to the working tree, from git;
- `scopes`: the function around a changed line (the unit a change is attributed to);
- `modules` and `import_time`: a changed line that runs at import, followed to the
  tests that read what it binds (by rule; every test when it can't be followed);
- `selection`: the decision: which tests, and why, one reason a line;
- `pytest_side`: the options and hooks that save the recording and deselect.
"""
