"""grpcio peer of the node's snakepit.v1.Snakepit/Execute, for tests/bench-http.sh.

Answers every Execute with a no-op result shaped like the node's
({result: null, worker, node}); the other methods stay UNIMPLEMENTED.
Prints "ready grpc=HOST:PORT" on stdout once it listens (--port 0 picks a free one).

One process with a thread pool, as grpcio's own examples and most deployments
run it: the benchmark measures sequential latency (one call in flight), which
more processes would not change, and grpcio has no built-in way to share a
port between processes (it needs fork before the server starts plus
SO_REUSEPORT, see grpcio's examples/python/multiprocessing).
"""

import argparse
import os
import signal
import socket
import sys
from concurrent import futures
from typing import Any

import grpc

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import snakepit_stubs  # noqa: E402

pb2, pb2_grpc = snakepit_stubs.load()

WORKER = "default-%d" % os.getpid()
NODE = "grpcio-" + socket.gethostname()


class NoopSnakepit(pb2_grpc.SnakepitServicer):
    def Execute(self, request: Any, context: grpc.ServicerContext) -> Any:
        resp = pb2.ExecuteResponse(worker=WORKER, node=NODE)
        resp.result.null_value = 0  # a JSON null, as the node's no-op answers
        return resp


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0)
    parser.add_argument("--threads", type=int, default=10, help="the thread pool's size (grpcio's examples use 10)")
    opts = parser.parse_args()
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=opts.threads))
    pb2_grpc.add_SnakepitServicer_to_server(NoopSnakepit(), server)
    port = server.add_insecure_port("%s:%d" % (opts.host, opts.port))
    server.start()
    print("ready grpc=%s:%d" % (opts.host, port), flush=True)
    signal.signal(signal.SIGTERM, lambda *_: server.stop(0))
    server.wait_for_termination()


if __name__ == "__main__":
    main()
