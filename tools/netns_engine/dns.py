"""A resolver that knows no names: every query answered NXDOMAIN at once, on the namespace's own address.

The namespace has no route out, so the engine's embedded DNS would forward lookups of
names it doesn't hold (a stopped service's) into the void; Docker 20.10 then sends no
answer at all and the caller waits out its resolver's timeouts (~20 s). A real remote
host has a resolver that says "no such name" in milliseconds: this is that, and it
sends nothing anywhere. Run as `python -m tools.netns_engine.dns ADDRESS` in the namespace.
"""

from __future__ import annotations

import socket
import struct
import sys

NXDOMAIN = 3
HEADER = struct.Struct("!HHHHHH")


def answer(query: bytes) -> bytes | None:
    """The NXDOMAIN reply to one DNS query (same id and question), or None for what isn't a query."""
    if len(query) < HEADER.size:
        return None
    ident, flags, qdcount, _, _, _ = HEADER.unpack_from(query)
    if flags & 0x8000 or qdcount != 1:  # a response, or not one question: ignore
        return None
    end = HEADER.size
    while end < len(query) and query[end] != 0:
        end += query[end] + 1
    end += 1 + 4  # the root label, then QTYPE and QCLASS
    if end > len(query):
        return None
    reply_flags = 0x8000 | (flags & 0x7900) | 0x0080 | NXDOMAIN  # QR, opcode+RD kept, RA
    return HEADER.pack(ident, reply_flags, 1, 0, 0, 0) + query[HEADER.size : end]


def serve(address: str, port: int = 53) -> None:
    """Answer every query on (address, port) until killed."""
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as server:
        server.bind((address, port))
        while True:
            query, client = server.recvfrom(4096)
            reply = answer(query)
            if reply is not None:
                server.sendto(reply, client)


if __name__ == "__main__":
    serve(sys.argv[1])
