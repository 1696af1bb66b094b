"""Exceptions a tool author can meet."""

from __future__ import annotations

from typing import FrozenSet

#: The codes, besides ``tool_failed``, that an exception escaping a tool may
#: give its ERROR frame (through its ``code``); the node answers the caller
#: with its own error of that name. No other code passes, whatever an
#: exception says, so a tool cannot pass for a worker or node failure.
TOOL_ERROR_CODES: FrozenSet[str] = frozenset({
    "session_required", "session_not_found",
    # The session store refused a ctx.session write: the caller's retryable 503, not the tool's bug.
    "minority_partition", "not_owner", "store_unavailable",
    # A ctx.session write whose outcome the node cannot know: the caller must read before retrying.
    "node_lost",
    # A stored value failed its integrity check (tampered, or sealed with a key this node lacks).
    "integrity_failed",
})


class SnakepitError(Exception):
    """Base class of the worker runtime's own exceptions.

    Attributes:
        code: the Snakepit error code of the failure. When the exception
            escapes a tool, the ERROR frame carries it if it is in
            :data:`TOOL_ERROR_CODES`, and ``tool_failed`` otherwise.
    """

    code: str = "tool_failed"


class AdapterError(SnakepitError):
    """The adapter cannot be loaded: bad spec, no tools, duplicate tool names."""


class NodeCallError(SnakepitError):
    """The node answered a ``ctx.call`` with an error.

    Escaping a tool, it is reported as ``tool_failed``, except with the
    codes in :data:`TOOL_ERROR_CODES`, which the ERROR frame keeps:
    ``session_not_found`` (the session was deleted while the call ran),
    ``session_required``, the store's refusals ``minority_partition``,
    ``not_owner`` and ``store_unavailable``, so that the caller gets the
    typed, retryable 503 rather than the tool's failure, and ``node_lost``
    (a write whose outcome is unknown), so that the caller reads before
    retrying.

    Attributes:
        code: the node's error code, e.g. ``"unknown_op"`` or ``"not_found"``.
        message: the node's explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SessionUnavailableError(SnakepitError):
    """``ctx.session`` was used by a call that was not made inside a session.

    Escaping a tool, it is reported with the code ``session_required``.
    """

    code = "session_required"


class ToolCancelled(SnakepitError):
    """Raised by ``ctx.raise_if_cancelled()`` once the node cancelled the request.

    A tool may let it propagate (the runtime answers ``cancelled``) or catch
    it to clean up first.
    """
