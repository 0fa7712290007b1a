"""`python -m tools.netns_engine clean`: remove namespaces an interrupted (SIGKILLed) rig left behind."""

from __future__ import annotations

import sys

from tools.netns_engine import namespace
from tools.netns_engine.plan import PREFIX


def main(argv: list[str]) -> int:
    if argv != ["clean"]:
        print("usage: python -m tools.netns_engine clean", file=sys.stderr)
        return 2
    for name in namespace.leftovers():
        # msk-<tag>-<slot> -> msk<tag>h<slot>, the veth's host end
        _, tag, slot = name.split("-")
        namespace.remove(name, f"{PREFIX}{tag}h{slot}")
        print(f"removed namespace {name}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
