"""A bench adapter that imports numpy at module level (spec "numpy_adapter"),
for the forkserver's copy-on-write figure in docs/benchmarks.md."""

from __future__ import annotations

import numpy

from snakepit_worker import tool


@tool
def noop() -> None:
    return None


@tool
def numpy_version() -> str:
    return numpy.__version__
