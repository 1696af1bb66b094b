"""Python stubs of the node's gRPC API, generated at run time from the project's proto.

Shared by grpc_noop_server.py and grpc_latency.py. Nothing generated is
committed, so the peers follow app/src/main/proto as it changes.

Why protoc and grpc_python_plugin (apt: protobuf-compiler, protobuf-compiler-grpc)
rather than grpc_tools.protoc: Debian's python3-grpc-tools is 1.14, whose
bundled protoc 3.6 neither accepts proto3 `optional` nor generates code that
python3-protobuf 3.21 loads. The apt compilers match the installed runtimes
(protobuf 3.21, grpcio 1.51). A newer grpc_tools (pip grpcio-tools) is used
when protoc is missing.
"""

import importlib
import os
import shutil
import subprocess
import sys
import tempfile
from types import ModuleType
from typing import List, Tuple

PROTO_ROOT = os.path.normpath(os.path.join(os.path.dirname(os.path.abspath(__file__)),
                                           "..", "..", "..", "app", "src", "main", "proto"))
PROTO = "snakepit/v1/snakepit.proto"


def _well_known_includes() -> List[str]:
    """Where google/protobuf/struct.proto may be: libprotobuf-dev, or grpc_tools' copy."""
    dirs = ["/usr/include", "/usr/local/include"]
    try:
        import grpc_tools
        dirs.append(os.path.join(os.path.dirname(grpc_tools.__file__), "_proto"))
    except ImportError:
        pass
    return [d for d in dirs if os.path.isfile(os.path.join(d, "google", "protobuf", "struct.proto"))]


def _compile(out: str) -> None:
    args = ["-I" + PROTO_ROOT] + ["-I" + d for d in _well_known_includes()]
    args += ["--python_out=" + out, "--grpc_python_out=" + out, PROTO]
    protoc, plugin = shutil.which("protoc"), shutil.which("grpc_python_plugin")
    if protoc and plugin:
        subprocess.run([protoc, "--plugin=protoc-gen-grpc_python=" + plugin] + args, check=True)
        return
    from grpc_tools import protoc as grpc_protoc  # pip's grpcio-tools
    if grpc_protoc.main(["protoc"] + args) != 0:
        raise RuntimeError("grpc_tools.protoc failed on " + PROTO)


def load() -> Tuple[ModuleType, ModuleType]:
    """Generates snakepit_pb2 and snakepit_pb2_grpc into a temp dir and imports them."""
    out = tempfile.mkdtemp(prefix="snakepit-stubs-")
    try:
        _compile(out)
        sys.path.insert(0, out)
        try:
            pb2 = importlib.import_module("snakepit.v1.snakepit_pb2")
            pb2_grpc = importlib.import_module("snakepit.v1.snakepit_pb2_grpc")
        finally:
            sys.path.remove(out)
    finally:
        # The imported modules stay in memory; the files are no longer needed.
        shutil.rmtree(out, ignore_errors=True)
    return pb2, pb2_grpc
