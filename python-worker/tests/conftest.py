"""Shared fixtures: the worker package and sample adapters on sys.path, and a
harness that runs async test bodies against a fake node and a real worker."""

from __future__ import annotations

import os
import sys
from typing import Iterator

import pytest

HERE = os.path.dirname(os.path.abspath(__file__))
for path in (os.path.dirname(HERE), os.path.join(HERE, "sample_adapters"), HERE):
    if path not in sys.path:
        sys.path.insert(0, path)

from fakenode import Harness  # noqa: E402


@pytest.fixture
def harness() -> Iterator[Harness]:
    h = Harness()
    try:
        yield h
    finally:
        h.cleanup()  # kills every worker process and removes its temp dir
