"""Two tools with the same name."""

from snakepit_worker import tool


@tool(name="same")
def first():
    return 1


@tool(name="same")
def second():
    return 2
