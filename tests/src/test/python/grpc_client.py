"""A real gRPC client in Python (Debian's python3-grpcio) against a running node.

Run by tests/.../GrpcPythonClientTest with /usr/bin/python3:

    grpc_client.py PROTOSET TARGET HTTP_BASE SCENARIO

PROTOSET is a FileDescriptorSet the test writes from the node's own compiled
descriptors, so no generated Python code is committed that could go stale:
the message classes are built here at run time with protobuf's descriptor pool.
Exits 0 and prints "ok SCENARIO" on success; 3 when grpc is not installed.
"""

import json
import sys
import time
import urllib.request

try:
    import grpc
    from google.protobuf import descriptor_pb2, descriptor_pool, message_factory
    from google.protobuf import struct_pb2  # noqa: F401  (registers the well-known types first)
    from google.protobuf import json_format
except ImportError as e:  # pragma: no cover - reported by the Java test
    print("no-grpc: /usr/bin/python3 cannot import grpc/protobuf (%s); "
          "install python3-grpcio and python3-protobuf" % e, file=sys.stderr)
    sys.exit(3)

DEADLINE_S = 30.0


def load(protoset):
    fds = descriptor_pb2.FileDescriptorSet()
    with open(protoset, "rb") as f:
        fds.ParseFromString(f.read())
    pool = descriptor_pool.Default()
    for fd in fds.file:
        try:
            pool.FindFileByName(fd.name)
        except KeyError:
            pool.AddSerializedFile(fd.SerializeToString())

    def cls(name):
        desc = pool.FindMessageTypeByName(name)
        if hasattr(message_factory, "GetMessageClass"):
            return message_factory.GetMessageClass(desc)
        return message_factory.MessageFactory(pool).GetPrototype(desc)

    return cls


class Client:
    def __init__(self, protoset, target):
        self.cls = load(protoset)
        self.channel = grpc.insecure_channel(target)
        grpc.channel_ready_future(self.channel).result(timeout=DEADLINE_S)

    def enum(self, enum_type, name):
        return descriptor_pool.Default().FindEnumTypeByName(enum_type).values_by_name[name].number

    def msg(self, type_name, **fields):
        m = self.cls(type_name)()
        for k, v in fields.items():
            if hasattr(v, "CopyFrom"):  # a message, e.g. a google.protobuf.Value
                getattr(m, k).CopyFrom(v)
            elif isinstance(v, dict) and not isinstance(getattr(m, k), (int, float, str, bytes)):
                field = getattr(m, k)
                if hasattr(field, "update"):  # google.protobuf.Struct
                    field.update(v)
                else:
                    json_format.ParseDict(v, field)
            else:
                setattr(m, k, v)
        return m

    def method(self, service, name, req_type, resp_type, streaming=False):
        path = "/%s/%s" % (service, name)
        ser = self.cls(req_type).SerializeToString
        de = self.cls(resp_type).FromString
        if streaming:
            return self.channel.unary_stream(path, request_serializer=ser, response_deserializer=de)
        return self.channel.unary_unary(path, request_serializer=ser, response_deserializer=de)

    def snakepit(self, name, req_type, resp_type, streaming=False):
        return self.method("snakepit.v1.Snakepit", name, "snakepit.v1." + req_type, "snakepit.v1." + resp_type,
                           streaming)


def to_py(message):
    return json_format.MessageToDict(message, preserving_proto_field_name=True)


def expect_error(fn, status, code, cid=None):
    """Calls fn, expects an RpcError with that status and product error code; returns the error JSON."""
    try:
        fn()
    except grpc.RpcError as e:
        assert e.code() == status, "status %s, wanted %s (%s)" % (e.code(), status, e.details())
        trailers = dict(e.trailing_metadata() or ())
        assert trailers.get("snakepit-error-code") == code, trailers
        err = json.loads(trailers["snakepit-error"])
        assert err["code"] == code and err["message"] and err["hint"], err
        assert err["correlation_id"], err
        if cid is not None:
            assert err["correlation_id"] == cid, (err, cid)
        assert isinstance(trailers.get("grpc-status-details-bin"), bytes), trailers
        return err
    raise AssertionError("no error, wanted %s %s" % (status, code))


def http_json(url):
    with urllib.request.urlopen(url, timeout=DEADLINE_S) as r:
        return json.loads(r.read())


def poll(what, condition):
    end = time.monotonic() + DEADLINE_S
    while time.monotonic() < end:
        if condition():
            return
        time.sleep(0.025)
    raise AssertionError("timed out waiting for: " + what)


def scenario_execute(c, http):
    execute = c.snakepit("Execute", "ExecuteRequest", "ExecuteResponse")
    args = {"x": 1, "s": "h\u00e9llo", "l": [1, 2.5, None, True], "o": {"k": "v"}}
    resp, call = execute.with_call(c.msg("snakepit.v1.ExecuteRequest", tool="echo", args=args),
                                   metadata=[("x-correlation-id", "py-cid-1")], timeout=DEADLINE_S)
    assert to_py(resp.result) == {"x": 1.0, "s": "h\u00e9llo", "l": [1.0, 2.5, None, True], "o": {"k": "v"}}, resp
    assert resp.worker.startswith("default-") and resp.node, resp
    assert dict(call.initial_metadata()).get("x-correlation-id") == "py-cid-1", call.initial_metadata()
    # Whole numbers reach Python as ints: a float 3.0 would not do for range().
    resp = execute(c.msg("snakepit.v1.ExecuteRequest", tool="add", args={"a": 1, "b": 2}), timeout=DEADLINE_S)
    assert resp.result.number_value == 3, resp
    # Bytes come as base64 strings, as in the node's JSON.
    resp = execute(c.msg("snakepit.v1.ExecuteRequest", tool="bytes_echo", args={"size": 3}), timeout=DEADLINE_S)
    assert resp.result.WhichOneof("kind") == "string_value" and resp.result.string_value, resp
    # Without a correlation id the node makes one up.
    _, call = execute.with_call(c.msg("snakepit.v1.ExecuteRequest", tool="noop"), timeout=DEADLINE_S)
    assert dict(call.initial_metadata()).get("x-correlation-id"), call.initial_metadata()


def scenario_stream(c, http):
    stream = c.snakepit("ExecuteStream", "ExecuteRequest", "StreamEvent", streaming=True)
    events = list(stream(c.msg("snakepit.v1.ExecuteRequest", tool="count", args={"n": 5}), timeout=DEADLINE_S))
    assert events[0].WhichOneof("event") == "start" and events[0].start.worker, events
    items = [to_py(e.item) for e in events[1:]]
    assert items == [{"i": float(i)} for i in range(5)], items
    # A failure before the stream starts ends it with the status and the error.
    expect_error(lambda: list(stream(c.msg("snakepit.v1.ExecuteRequest", tool="no_such_tool"), timeout=DEADLINE_S)),
                 grpc.StatusCode.NOT_FOUND, "unknown_tool")


def scenario_errors(c, http):
    execute = c.snakepit("Execute", "ExecuteRequest", "ExecuteResponse")
    md = [("x-correlation-id", "py-err-1")]

    def run(**fields):
        return lambda: execute(c.msg("snakepit.v1.ExecuteRequest", **fields), metadata=md, timeout=DEADLINE_S)

    err = expect_error(run(tool="no_such_tool"), grpc.StatusCode.NOT_FOUND, "unknown_tool", "py-err-1")
    assert "echo" in err["tools"], err
    err = expect_error(run(tool="fail", args={"message": "boom"}), grpc.StatusCode.UNKNOWN, "tool_failed", "py-err-1")
    assert err["type"] == "RuntimeError" and "boom" in err["message"] and "Traceback" in err["traceback"], err
    expect_error(run(tool=""), grpc.StatusCode.INVALID_ARGUMENT, "bad_request", "py-err-1")
    expect_error(run(tool="echo", pool="nope"), grpc.StatusCode.NOT_FOUND, "unknown_pool", "py-err-1")
    expect_error(run(tool="sleep", args={"ms": 10000}, timeout_ms=100), grpc.StatusCode.DEADLINE_EXCEEDED, "timeout")
    get = c.snakepit("GetSession", "GetSessionRequest", "Session")
    expect_error(lambda: get(c.msg("snakepit.v1.GetSessionRequest", id="no-such-session"), timeout=DEADLINE_S),
                 grpc.StatusCode.NOT_FOUND, "session_not_found")
    expect_error(lambda: get(c.msg("snakepit.v1.GetSessionRequest", id="bad id!"), timeout=DEADLINE_S),
                 grpc.StatusCode.INVALID_ARGUMENT, "bad_request")


def inflight(http):
    return sum(w["inflight"] for w in http_json(http + "/v1/workers")["workers"])


def scenario_cancel(c, http):
    stream = c.snakepit("ExecuteStream", "ExecuteRequest", "StreamEvent", streaming=True)
    call = stream(c.msg("snakepit.v1.ExecuteRequest", tool="count", args={"n": 1000000, "delay_ms": 20}),
                  timeout=DEADLINE_S)
    first = next(call)
    assert first.WhichOneof("event") == "start", first
    for _ in range(3):
        assert next(call).WhichOneof("event") == "item"
    assert inflight(http) >= 1
    call.cancel()
    assert call.code() == grpc.StatusCode.CANCELLED, call.code()
    # The worker's call is cancelled: it becomes idle again.
    poll("workers idle after the client cancelled", lambda: inflight(http) == 0)


def scenario_sessions(c, http):
    s = lambda name, req, resp: c.snakepit(name, req, resp)  # noqa: E731
    create = s("CreateSession", "CreateSessionRequest", "CreateSessionResponse")
    get = s("GetSession", "GetSessionRequest", "Session")
    delete = s("DeleteSession", "DeleteSessionRequest", "DeleteSessionResponse")
    list_ = s("ListSessions", "ListSessionsRequest", "ListSessionsResponse")
    get_var = s("GetVariable", "GetVariableRequest", "GetVariableResponse")
    put_var = s("PutVariable", "PutVariableRequest", "PutVariableResponse")
    del_var = s("DeleteVariable", "DeleteVariableRequest", "DeleteVariableResponse")
    incr_var = s("IncrementVariable", "IncrementVariableRequest", "IncrementVariableResponse")
    vars_ = s("ListVariables", "ListVariablesRequest", "ListVariablesResponse")
    get_prog = s("GetProgram", "GetProgramRequest", "GetProgramResponse")
    put_prog = s("PutProgram", "PutProgramRequest", "PutProgramResponse")
    execute = s("Execute", "ExecuteRequest", "ExecuteResponse")
    m = c.msg
    t = DEADLINE_S

    r = create(m("snakepit.v1.CreateSessionRequest", id="py-s1", ttl_s=600, metadata={"owner": "ann"}), timeout=t)
    assert r.created and r.session.id == "py-s1" and r.session.ttl_s == 600, r
    assert to_py(r.session.metadata) == {"owner": "ann"}, r
    assert not create(m("snakepit.v1.CreateSessionRequest", id="py-s1"), timeout=t).created
    generated = create(m("snakepit.v1.CreateSessionRequest"), timeout=t).session.id
    assert generated and generated != "py-s1"

    value = struct_pb2.Value(number_value=3)
    v1 = put_var(m("snakepit.v1.PutVariableRequest", session_id="py-s1", name="n", value=value), timeout=t).version
    assert v1 > 0
    assert get_var(m("snakepit.v1.GetVariableRequest", session_id="py-s1", name="n"), timeout=t).value.number_value == 3
    # A call in the session, with affinity: the tool reads and writes the session's variables.
    r = execute(m("snakepit.v1.ExecuteRequest", tool="incr", args={"name": "n"}, session_id="py-s1",
                  affinity=c.enum("snakepit.v1.Affinity", "AFFINITY_STRICT_QUEUE")), timeout=t)
    assert r.result.number_value == 4, r
    assert to_py(vars_(m("snakepit.v1.ListVariablesRequest", session_id="py-s1"), timeout=t).variables) == {"n": 4.0}
    session = get(m("snakepit.v1.GetSessionRequest", id="py-s1"), timeout=t)
    assert session.last_worker == r.worker and session.last_node == r.node, session

    # A counter: by defaults to 1; set on a counter, or an increment of a plain value, is a typed refusal.
    assert incr_var(m("snakepit.v1.IncrementVariableRequest", session_id="py-s1", name="hits"), timeout=t).value == 1
    r = incr_var(m("snakepit.v1.IncrementVariableRequest", session_id="py-s1", name="hits", by=-5), timeout=t)
    assert r.value == -4, r
    expect_error(lambda: put_var(m("snakepit.v1.PutVariableRequest", session_id="py-s1", name="hits", value=value),
                                 timeout=t), grpc.StatusCode.INVALID_ARGUMENT, "bad_request")
    expect_error(lambda: incr_var(m("snakepit.v1.IncrementVariableRequest", session_id="py-s1", name="n"),
                                  timeout=t), grpc.StatusCode.INVALID_ARGUMENT, "bad_request")
    expect_error(lambda: incr_var(m("snakepit.v1.IncrementVariableRequest", session_id="py-none", name="n"),
                                  timeout=t), grpc.StatusCode.NOT_FOUND, "session_not_found")
    assert to_py(vars_(m("snakepit.v1.ListVariablesRequest", session_id="py-s1"), timeout=t).variables) == {
        "n": 4.0, "hits": -4.0}

    put_prog(m("snakepit.v1.PutProgramRequest", session_id="py-s1", program_id="p1",
               program={"code": "x = 1", "lines": [1, 2]}), timeout=t)
    prog = get_prog(m("snakepit.v1.GetProgramRequest", session_id="py-s1", program_id="p1"), timeout=t).program
    assert to_py(prog) == {"code": "x = 1", "lines": [1.0, 2.0]}, prog
    assert list(get(m("snakepit.v1.GetSessionRequest", id="py-s1"), timeout=t).program_ids) == ["p1"]

    ids, cursor = [], ""
    while True:
        page = list_(m("snakepit.v1.ListSessionsRequest", limit=1, cursor=cursor), timeout=t)
        ids += [x.id for x in page.sessions]
        cursor = page.next_cursor
        if not cursor:
            break
    assert "py-s1" in ids and generated in ids, ids

    del_var(m("snakepit.v1.DeleteVariableRequest", session_id="py-s1", name="n"), timeout=t)
    expect_error(lambda: get_var(m("snakepit.v1.GetVariableRequest", session_id="py-s1", name="n"), timeout=t),
                 grpc.StatusCode.NOT_FOUND, "not_found_in_session")
    expect_error(lambda: put_var(m("snakepit.v1.PutVariableRequest", session_id="py-s1", name="n"), timeout=t),
                 grpc.StatusCode.INVALID_ARGUMENT, "bad_request")
    assert delete(m("snakepit.v1.DeleteSessionRequest", id="py-s1"), timeout=t).deleted
    assert not delete(m("snakepit.v1.DeleteSessionRequest", id="py-s1"), timeout=t).deleted
    expect_error(lambda: get(m("snakepit.v1.GetSessionRequest", id="py-s1"), timeout=t),
                 grpc.StatusCode.NOT_FOUND, "session_not_found")
    expect_error(lambda: execute(m("snakepit.v1.ExecuteRequest", tool="echo", session_id="py-s1"), timeout=t),
                 grpc.StatusCode.NOT_FOUND, "session_not_found")


def scenario_health(c, http):
    check = c.method("grpc.health.v1.Health", "Check", "grpc.health.v1.HealthCheckRequest",
                     "grpc.health.v1.HealthCheckResponse")
    serving = c.cls("grpc.health.v1.HealthCheckResponse").SERVING
    for service in ("", "snakepit.v1.Snakepit"):
        r = check(c.msg("grpc.health.v1.HealthCheckRequest", service=service), timeout=DEADLINE_S)
        assert r.status == serving, (service, r)
    try:
        check(c.msg("grpc.health.v1.HealthCheckRequest", service="no.such.Service"), timeout=DEADLINE_S)
        raise AssertionError("an unknown service must answer NOT_FOUND")
    except grpc.RpcError as e:
        assert e.code() == grpc.StatusCode.NOT_FOUND, e
    watch = c.method("grpc.health.v1.Health", "Watch", "grpc.health.v1.HealthCheckRequest",
                     "grpc.health.v1.HealthCheckResponse", streaming=True)
    call = watch(c.msg("grpc.health.v1.HealthCheckRequest", service=""), timeout=DEADLINE_S)
    assert next(call).status == serving
    call.cancel()


def scenario_reflection(c, http):
    info = c.channel.stream_stream(
        "/grpc.reflection.v1.ServerReflection/ServerReflectionInfo",
        request_serializer=c.cls("grpc.reflection.v1.ServerReflectionRequest").SerializeToString,
        response_deserializer=c.cls("grpc.reflection.v1.ServerReflectionResponse").FromString)
    req = c.msg("grpc.reflection.v1.ServerReflectionRequest", list_services="*")
    names = set()
    for resp in info(iter([req]), timeout=DEADLINE_S):
        names |= {s.name for s in resp.list_services_response.service}
    assert {"snakepit.v1.Snakepit", "grpc.health.v1.Health"} <= names, names
    req = c.msg("grpc.reflection.v1.ServerReflectionRequest", file_containing_symbol="snakepit.v1.Snakepit")
    files = [f for resp in info(iter([req]), timeout=DEADLINE_S)
             for f in resp.file_descriptor_response.file_descriptor_proto]
    protos = [descriptor_pb2.FileDescriptorProto.FromString(f) for f in files]
    assert any(p.package == "snakepit.v1" and p.service[0].name == "Snakepit" for p in protos), protos


def main():
    protoset, target, http, scenario = sys.argv[1:5]
    client = Client(protoset, target)
    try:
        globals()["scenario_" + scenario](client, http)
    finally:
        client.channel.close()
    print("ok " + scenario)


if __name__ == "__main__":
    main()
