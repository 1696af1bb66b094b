"""The worker's exit statuses (docs/protocol.md, "Exit statuses").

A module of its own because both the runtime and its transport end the
process, and the transport must not import the runtime that imports it.
``runtime`` re-exports the names.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_INTERNAL = 1
EXIT_CONFIG = 2
EXIT_ADAPTER = 3
EXIT_REJECTED = 4
EXIT_PROTOCOL = 5
EXIT_CONNECT = 6

#: Prefix of the message written before an EXIT_INTERNAL exit.
INTERNAL_ERROR = "internal error in the worker runtime:\n"
