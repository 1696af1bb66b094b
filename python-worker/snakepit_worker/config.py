"""The worker's configuration, read from the environment the node sets up."""

from __future__ import annotations

from typing import Mapping, NamedTuple, Optional

from .protocol import DEFAULT_MAX_FRAME_BYTES, MIN_FRAME


class ConfigError(ValueError):
    """The environment is missing a variable or holds an invalid value."""


class Endpoint(NamedTuple):
    """Where to connect: ``kind`` is ``"unix"`` (``path``) or ``"tcp"`` (``host``, ``port``)."""

    kind: str
    path: str = ""
    host: str = ""
    port: int = 0

    def __str__(self) -> str:
        return f"unix:{self.path}" if self.kind == "unix" else f"tcp:{self.host}:{self.port}"


class WorkerConfig(NamedTuple):
    """Settings of one worker process (docs/protocol.md, "Transport")."""

    endpoint: Endpoint
    token: str
    worker_id: str
    node_id: str
    adapter: str
    concurrency: int
    parent_pid: Optional[int]
    max_frame_bytes: int
    #: Microseconds the reader polls the socket before it sleeps in recv (0: never).
    busy_poll_us: int = 0


def parse_endpoint(value: str) -> Endpoint:
    """Parses ``unix:/path`` or ``tcp:HOST:PORT``."""
    kind, sep, rest = value.partition(":")
    if sep and kind == "unix" and rest:
        return Endpoint("unix", path=rest)
    if sep and kind == "tcp":
        host, sep2, port = rest.rpartition(":")
        if sep2 and host and port.isdigit() and 0 < int(port) < 65536:
            return Endpoint("tcp", host=host.strip("[]"), port=int(port))
    raise ConfigError(
        f"SNAKEPIT_ENDPOINT={value!r} is invalid: expected 'unix:/path/to/worker.sock' "
        "or 'tcp:127.0.0.1:PORT'"
    )


def _required(env: Mapping[str, str], name: str) -> str:
    value = env.get(name, "")
    if not value.strip():
        raise ConfigError(
            f"{name} is not set. A worker is started by a Snakepit node, which sets "
            "SNAKEPIT_ENDPOINT, SNAKEPIT_TOKEN, SNAKEPIT_WORKER_ID, SNAKEPIT_NODE_ID, "
            "SNAKEPIT_ADAPTER, SNAKEPIT_CONCURRENCY and SNAKEPIT_PARENT_PID; to run one by "
            "hand, set them yourself"
        )
    return value.strip()


def _positive_int(env: Mapping[str, str], name: str, default: Optional[int],
                  minimum: int = 1) -> Optional[int]:
    raw = env.get(name, "").strip()
    if not raw:
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name}={raw!r} is not an integer") from None
    if value < minimum:
        raise ConfigError(f"{name}={value} must be at least {minimum}")
    return value


def config_from_env(env: Mapping[str, str]) -> WorkerConfig:
    """Builds the configuration from environment variables.

    Required: ``SNAKEPIT_ENDPOINT``, ``SNAKEPIT_TOKEN``, ``SNAKEPIT_WORKER_ID``,
    ``SNAKEPIT_ADAPTER``. Optional: ``SNAKEPIT_NODE_ID`` (default empty),
    ``SNAKEPIT_CONCURRENCY`` (default 1), ``SNAKEPIT_PARENT_PID`` (default: the
    parent pid at start), ``SNAKEPIT_MAX_FRAME_BYTES`` (default 16 MiB),
    ``SNAKEPIT_BUSY_POLL_US`` (default 0, at most 10000).

    Raises:
        ConfigError: with a message fit for the node's log.
    """
    endpoint = parse_endpoint(_required(env, "SNAKEPIT_ENDPOINT"))
    token = _required(env, "SNAKEPIT_TOKEN")
    worker_id = _required(env, "SNAKEPIT_WORKER_ID")
    adapter = _required(env, "SNAKEPIT_ADAPTER")
    node_id = env.get("SNAKEPIT_NODE_ID", "").strip()
    concurrency = _positive_int(env, "SNAKEPIT_CONCURRENCY", 1)
    parent_pid = _positive_int(env, "SNAKEPIT_PARENT_PID", None)
    max_frame = _positive_int(env, "SNAKEPIT_MAX_FRAME_BYTES", DEFAULT_MAX_FRAME_BYTES,
                              minimum=MIN_FRAME)
    busy_poll_us = _positive_int(env, "SNAKEPIT_BUSY_POLL_US", 0, minimum=0)
    if busy_poll_us is not None and busy_poll_us > 10_000:
        raise ConfigError(f"SNAKEPIT_BUSY_POLL_US={busy_poll_us} is above the limit of 10000 (10 ms)")
    if concurrency is not None and concurrency > 1024:
        raise ConfigError(f"SNAKEPIT_CONCURRENCY={concurrency} is above the limit of 1024")
    if max_frame is not None and max_frame > 0xFFFFFFFF:
        raise ConfigError(f"SNAKEPIT_MAX_FRAME_BYTES={max_frame} does not fit in 32 bits")
    return WorkerConfig(
        endpoint=endpoint,
        token=token,
        worker_id=worker_id,
        node_id=node_id,
        adapter=adapter,
        concurrency=concurrency or 1,
        parent_pid=parent_pid,
        max_frame_bytes=max_frame or DEFAULT_MAX_FRAME_BYTES,
        busy_poll_us=busy_poll_us or 0,
    )
