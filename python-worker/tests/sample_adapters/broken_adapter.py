"""An adapter that fails at import."""

raise ImportError("broken_adapter cannot be imported (on purpose)")
