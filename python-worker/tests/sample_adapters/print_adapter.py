"""Prints from a tool (spec "print_adapter")."""

from snakepit_worker import tool


@tool
def echo_print(text: str) -> int:
    print(text)
    return len(text)
