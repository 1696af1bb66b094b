"""The adapter API: the ``@tool`` decorator, the ``Adapter`` base class, and loading.

Two ways to write an adapter::

    # 1. a class (spec "mypkg.tools:MyAdapter")
    class MyAdapter(Adapter):
        def setup(self):            # once, before the worker connects
            self.model = load()

        @tool
        def predict(self, text, ctx):
            ctx.logger.info("predicting")
            return self.model(text)

    # 2. a module of functions (spec "mypkg.tools")
    @tool
    def add(a, b):
        return a + b

    def setup(): ...                        # optional hook
    def on_session_closed(session_id): ...  # optional hook
"""

from __future__ import annotations

import importlib
import inspect
from typing import Any, Callable, Dict, FrozenSet, List, Optional, Tuple

from .context import Context
from .errors import AdapterError

_MARK = "__snakepit_tool__"


class _ToolMark:
    """What ``@tool`` records on a function."""

    __slots__ = ("name", "doc")

    def __init__(self, name: Optional[str], doc: Optional[str]) -> None:
        self.name = name
        self.doc = doc


def tool(func: Optional[Callable[..., Any]] = None, *, name: Optional[str] = None,
         doc: Optional[str] = None) -> Any:
    """Marks a function or method as a tool the node can call.

    Usable bare (``@tool``) or with options (``@tool(name="x", doc="...")``).
    The function itself is returned unchanged, so it stays directly callable
    (and unit-testable) without a worker.

    The request's ``args`` are passed as keyword arguments. Declare a
    parameter named ``ctx`` (or annotated :class:`Context`) to receive the
    call's context. A generator (sync or async) is a streaming tool; an
    ``async def`` runs on the worker's event loop; a plain function runs in a
    worker thread.

    Args:
        name: the tool's public name; defaults to the function's name.
        doc: a one-line description; defaults to the docstring's first line.
    """

    def mark(f: Callable[..., Any]) -> Callable[..., Any]:
        target = f.__func__ if isinstance(f, (staticmethod, classmethod)) else f
        if not callable(target):
            raise TypeError(f"@tool applies to functions, not {type(f).__name__}")
        setattr(target, _MARK, _ToolMark(name, doc))
        return f

    if func is not None:
        return mark(func)
    return mark


class Adapter:
    """Base class for class-based adapters.

    The runtime instantiates the class with no arguments, calls
    :meth:`setup` once before connecting to the node, and serves every
    method decorated with :func:`tool`.
    """

    def setup(self) -> None:
        """Loads what the tools need (models, connections). Runs once, before the
        worker reports ready; an exception here makes the worker exit with status 3."""

    def on_session_closed(self, session_id: str) -> None:
        """Called (in a worker thread) when the node closes a session, so that
        per-session state kept in this process can be dropped."""

    def export_session(self, session_id: str) -> Optional[bytes]:
        """Returns this process's state for a session as bytes, or None if it has none.

        Called when the session moves to another worker or node (a node drains,
        or a periodic checkpoint), so that :meth:`import_session` can restore it
        there. The default keeps nothing: the session's Python-side state is
        then lost on a move, as the store's own variables are not.
        """
        return None

    def import_session(self, session_id: str, data: bytes) -> None:
        """Restores what :meth:`export_session` returned, before the session's next call here."""


# ---------------------------------------------------------------------------
# Tool introspection
# ---------------------------------------------------------------------------

_KIND_UNARY = "unary"
_KIND_STREAM = "stream"


def _is_context_annotation(annotation: Any) -> bool:
    if annotation is Context:
        return True
    # With "from __future__ import annotations" the annotation is a string.
    # A quoted annotation under that import is a string holding quotes.
    if isinstance(annotation, str):
        return annotation.strip().strip("'\"").rsplit(".", 1)[-1] == "Context"
    return False


class ToolSpec:
    """A loaded tool: the callable plus what the runtime precomputes about it."""

    __slots__ = (
        "name", "doc", "func", "kind", "is_async", "is_stream", "ctx_param",
        "signature", "_names", "_required", "_var_kw", "_simple",
    )

    def __init__(self, name: str, doc: str, func: Callable[..., Any]) -> None:
        self.name = name
        self.doc = doc
        self.func = func
        self.is_stream = inspect.isgeneratorfunction(func) or inspect.isasyncgenfunction(func)
        self.is_async = inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func)
        self.kind = _KIND_STREAM if self.is_stream else _KIND_UNARY
        try:
            self.signature: Optional[inspect.Signature] = inspect.signature(func)
        except (TypeError, ValueError):  # some builtins have no signature
            self.signature = None
        self.ctx_param: Optional[str] = None
        names: List[str] = []
        required: List[str] = []
        self._var_kw = False
        # "simple" = only keyword-bindable parameters, so binding is a couple
        # of set operations instead of Signature.bind on the hot path.
        self._simple = self.signature is not None
        if self.signature is not None:
            for p in self.signature.parameters.values():
                if p.kind is p.VAR_KEYWORD:
                    self._var_kw = True
                    continue
                if p.kind in (p.POSITIONAL_ONLY, p.VAR_POSITIONAL):
                    self._simple = False
                    continue
                is_ctx = p.name == "ctx" or _is_context_annotation(p.annotation)
                if self.ctx_param is None and is_ctx:
                    self.ctx_param = p.name
                    continue
                names.append(p.name)
                if p.default is p.empty:
                    required.append(p.name)
        self._names: FrozenSet[str] = frozenset(names)
        self._required: Tuple[str, ...] = tuple(required)

    def bind(self, args: Dict[str, Any], ctx: Optional[Context]) -> Dict[str, Any]:
        """Checks ``args`` against the signature *before* the call and returns the
        keyword arguments to call with (``ctx`` added when declared).

        Doing it up front is what lets a ``TypeError`` raised *inside* the tool
        be reported as ``tool_failed`` rather than ``bad_request``.

        Raises:
            TypeError: the arguments do not fit; the message says how.
        """
        if self.ctx_param is not None and self.ctx_param in args:
            raise TypeError(f"argument {self.ctx_param!r} is reserved for the call context")
        if self._simple:
            if not self._var_kw:
                for key in args:
                    if key not in self._names:
                        accepted = ", ".join(sorted(self._names)) or "no arguments"
                        raise TypeError(
                            f"tool {self.name!r} got an unexpected argument {key!r} "
                            f"(it accepts: {accepted})"
                        )
            missing = [n for n in self._required if n not in args]
            if missing:
                raise TypeError(
                    f"tool {self.name!r} is missing required argument(s): "
                    + ", ".join(repr(m) for m in missing)
                )
            kwargs = dict(args)
        else:
            kwargs = dict(args)
            if self.signature is not None:
                probe = dict(kwargs)
                if self.ctx_param is not None:
                    probe[self.ctx_param] = ctx
                try:
                    self.signature.bind(**probe)
                except TypeError as exc:
                    raise TypeError(f"tool {self.name!r}: {exc}") from None
        if self.ctx_param is not None:
            kwargs[self.ctx_param] = ctx
        return kwargs

    def describe(self) -> Dict[str, str]:
        """The tool's entry in ``HELLO.tools``."""
        return {"name": self.name, "kind": self.kind, "doc": self.doc}

    def __repr__(self) -> str:
        return f"ToolSpec({self.name!r}, kind={self.kind}, async={self.is_async})"


def _first_doc_line(func: Callable[..., Any]) -> str:
    doc = inspect.getdoc(func) or ""
    for line in doc.splitlines():
        line = line.strip()
        if line:
            return line
    return ""


class LoadedAdapter:
    """An adapter ready to serve: its tools by name and its lifecycle hooks."""

    def __init__(
        self,
        spec: str,
        tools: Dict[str, ToolSpec],
        setup: Optional[Callable[[], Any]],
        on_session_closed: Optional[Callable[[str], Any]],
        instance: Any = None,
    ) -> None:
        self.spec = spec
        self.tools = tools
        self.setup_hook = setup
        self.on_session_closed = on_session_closed
        self.instance = instance

    def setup(self) -> None:
        """Runs the adapter's ``setup`` hook, if any."""
        if self.setup_hook is not None:
            result = self.setup_hook()
            if inspect.isawaitable(result):
                raise AdapterError(
                    f"{self.spec}: setup() must be a plain function, not async"
                )

    def describe_tools(self) -> List[Dict[str, str]]:
        """The ``HELLO.tools`` list, sorted by name (the reserved handoff tools are not listed)."""
        return [self.tools[n].describe() for n in sorted(self.tools) if not n.startswith(RESERVED_PREFIX)]

    def add_handoff_tools(self, export: Optional[Callable[[str], Any]],
                          restore: Optional[Callable[[str, bytes], Any]]) -> None:
        """Serves the adapter's export/import hooks as the reserved tools the node calls."""

        def export_tool(session_id: str) -> Any:
            data = export(session_id) if export is not None else None
            if data is not None and not isinstance(data, (bytes, bytearray, memoryview)):
                raise TypeError(f"export_session must return bytes or None, not {type(data).__name__}")
            return bytes(data) if data is not None else None

        def import_tool(session_id: str, data: bytes) -> None:
            if restore is not None and data is not None:
                restore(session_id, bytes(data))

        self.tools[EXPORT_TOOL] = ToolSpec(EXPORT_TOOL, "export a session's state", export_tool)
        self.tools[IMPORT_TOOL] = ToolSpec(IMPORT_TOOL, "import a session's state", import_tool)


#: Tool names the runtime reserves for the node's own use (state handoff).
RESERVED_PREFIX = "__snakepit_"
EXPORT_TOOL = "__snakepit_export__"
IMPORT_TOOL = "__snakepit_import__"


def _add_tool(tools: Dict[str, ToolSpec], origin: Dict[str, str], where: str,
              func: Callable[..., Any], mark: _ToolMark, spec: str) -> None:
    name = mark.name or getattr(func, "__name__", None)
    if not name or not isinstance(name, str):
        raise AdapterError(f"{spec}: cannot tell the name of tool {where}; use @tool(name=...)")
    if name.startswith(RESERVED_PREFIX):
        raise AdapterError(f"{spec}: tool name {name!r} is reserved ({RESERVED_PREFIX}...); rename it")
    if name in tools:
        raise AdapterError(
            f"{spec}: duplicate tool name {name!r} ({origin[name]} and {where}); "
            "give one of them another name with @tool(name=...)"
        )
    doc = mark.doc if mark.doc is not None else _first_doc_line(func)
    tools[name] = ToolSpec(name, doc, func)
    origin[name] = where


def load_adapter(spec: str) -> LoadedAdapter:
    """Imports the adapter named by ``spec`` (``"pkg.module:Class"`` or ``"pkg.module"``).

    Does not run ``setup``; call :meth:`LoadedAdapter.setup` for that.

    Raises:
        AdapterError: the spec is malformed, names nothing usable, or the
            adapter has no tools or duplicate tool names.
        Exception: whatever importing the module raises.
    """
    spec = spec.strip()
    module_name, sep, attr = spec.partition(":")
    if not module_name or (sep and not attr):
        raise AdapterError(
            f"adapter spec {spec!r} is malformed: use 'package.module:ClassName' "
            "or 'package.module'"
        )
    module = importlib.import_module(module_name)
    tools: Dict[str, ToolSpec] = {}
    origin: Dict[str, str] = {}
    if sep:
        target: Any = module
        for part in attr.split("."):
            try:
                target = getattr(target, part)
            except AttributeError:
                raise AdapterError(
                    f"adapter spec {spec!r}: module {module_name!r} has no attribute {attr!r}"
                ) from None
        if not inspect.isclass(target):
            raise AdapterError(f"adapter spec {spec!r}: {attr!r} is not a class")
        instance = target()
        # Walk the MRO so that a subclass's override (even without @tool)
        # decides what an attribute name means.
        seen: set = set()
        for klass in type(instance).__mro__:
            for attr_name, raw in vars(klass).items():
                if attr_name in seen:
                    continue
                seen.add(attr_name)
                func = raw.__func__ if isinstance(raw, (staticmethod, classmethod)) else raw
                mark = getattr(func, _MARK, None) if callable(func) else None
                if not isinstance(mark, _ToolMark):
                    continue
                bound = getattr(instance, attr_name)
                _add_tool(tools, origin, f"{klass.__name__}.{attr_name}", bound, mark, spec)
        setup = getattr(instance, "setup", None)
        closed = getattr(instance, "on_session_closed", None)
        result = LoadedAdapter(spec, tools, setup if callable(setup) else None,
                               closed if callable(closed) else None, instance)
        export = getattr(instance, "export_session", None)
        restore = getattr(instance, "import_session", None)
    else:
        seen_funcs: Dict[int, str] = {}
        for attr_name, value in list(vars(module).items()):
            mark = getattr(value, _MARK, None) if callable(value) else None
            if not isinstance(mark, _ToolMark) or inspect.isclass(value):
                continue
            if id(value) in seen_funcs:  # the same function bound to two names
                continue
            seen_funcs[id(value)] = attr_name
            _add_tool(tools, origin, f"{module_name}.{attr_name}", value, mark, spec)
        setup = getattr(module, "setup", None)
        closed = getattr(module, "on_session_closed", None)
        result = LoadedAdapter(spec, tools, setup if inspect.isfunction(setup) else None,
                               closed if inspect.isfunction(closed) else None)
        export = getattr(module, "export_session", None)
        restore = getattr(module, "import_session", None)
    if not tools:
        raise AdapterError(
            f"adapter {spec!r} defines no tools: decorate functions or methods with "
            "@snakepit_worker.tool"
        )
    result.add_handoff_tools(export if callable(export) else None,
                             restore if callable(restore) else None)
    return result
