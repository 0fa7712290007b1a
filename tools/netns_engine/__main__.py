"""`python -m tools.netns_engine run [PYTEST ARGS]`: nox -s remote_engines (tools/netns_engine/session.py).

`python -m tools.netns_engine clean`: remove namespaces an interrupted (SIGKILLed) rig left behind.
"""

from __future__ import annotations

import sys

from tools.netns_engine import namespace, session
from tools.netns_engine.plan import PREFIX
from tools.netns_engine.run import RigError

USAGE = "usage: python -m tools.netns_engine run [PYTEST ARGS] | clean"


def clean() -> int:
    for name in namespace.leftovers():
        # msk-<tag>-<slot> -> msk<tag>h<slot>, the veth's host end
        _, tag, slot = name.split("-")
        namespace.remove(name, f"{PREFIX}{tag}h{slot}")
        print(f"removed namespace {name}")
    return 0


def main(argv: list[str]) -> int:
    if argv == ["clean"]:
        return clean()
    if not argv or argv[0] != "run":
        print(USAGE, file=sys.stderr)
        return 2
    try:
        session.run(argv[1:])
    except RigError as error:
        print(f"remote_engines: {error}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
