"""Exceptions a tool author can meet."""

from __future__ import annotations


class SnakepitError(Exception):
    """Base class of the worker runtime's own exceptions."""


class AdapterError(SnakepitError):
    """The adapter cannot be loaded: bad spec, no tools, duplicate tool names."""


class NodeCallError(SnakepitError):
    """The node answered a ``ctx.call`` with an error.

    Attributes:
        code: the node's error code, e.g. ``"unknown_op"`` or ``"not_found"``.
        message: the node's explanation.
    """

    def __init__(self, code: str, message: str) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message


class SessionUnavailableError(SnakepitError):
    """``ctx.session`` was used by a call that was not made inside a session."""


class ToolCancelled(SnakepitError):
    """Raised by ``ctx.raise_if_cancelled()`` once the node cancelled the request.

    A tool may let it propagate (the runtime answers ``cancelled``) or catch
    it to clean up first.
    """
