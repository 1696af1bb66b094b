package io.snakepit.tests.fuzz;

import io.snakepit.contract.Addresses;
import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.Headers;
import io.snakepit.contract.SessionCall;
import io.snakepit.contract.SessionOp;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.eventbus.ReplyException;
import io.vertx.core.eventbus.ReplyFailure;
import java.lang.reflect.Field;
import java.lang.reflect.Modifier;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.TreeSet;
import java.util.concurrent.ExecutionException;
import java.util.concurrent.TimeUnit;

/**
 * Sends hostile messages, from another member of the cluster, to every address the product defines
 * ({@link Addresses}, each session operation, each node's router): bodies of every type the event
 * bus carries (JSON objects of random shape, strings, buffers, numbers, arrays, nothing) with random
 * headers. Cluster-wide addresses must answer every request with a reply or a typed failure whose
 * code is documented and not {@code internal}, and must never leave a request unanswered; node-local
 * addresses must not be reachable from another member at all (no handlers).
 */
final class EventBusFuzzer {

  static final String DOOR = "event-bus";
  private static final long REPLY_TIMEOUT_MS = 10_000;

  private final RandomInput in;
  private final Vertx member;
  private final List<String> clusterWide = new ArrayList<>();
  private final List<String> nodeLocal = new ArrayList<>();

  /**
   * @param member a clustered Vert.x that joined the node's cluster as an application
   * @param nodeId the node being fuzzed, whose router has cluster-wide addresses of its own
   */
  EventBusFuzzer(RandomInput in, Vertx member, String nodeId) {
    this.in = in;
    this.member = member;
    Set<String> local = new TreeSet<>();
    for (Field f : Addresses.class.getFields()) {
      if (Modifier.isStatic(f.getModifiers()) && f.getType() == String.class) {
        try {
          String a = (String) f.get(null);
          if (!a.endsWith(".")) {
            local.add(a);
          }
        } catch (IllegalAccessException e) {
          throw new IllegalStateException(e);
        }
      }
    }
    for (SessionOp op : SessionOp.values()) {
      local.add(op.address());
      clusterWide.add(op.clusterAddress());
    }
    for (SessionCall call : SessionCall.values()) {
      local.add(call.address());
    }
    clusterWide.add(Addresses.node(nodeId, "execute"));
    clusterWide.add(Addresses.node(nodeId, "stream.open"));
    // Published to, never asked: a node that cannot read a heartbeat must ignore it.
    local.remove(Addresses.RING_HEARTBEAT);
    local.remove(Addresses.EVENTS);
    nodeLocal.addAll(local);
  }

  void once(Findings findings) {
    int which = in.below(10);
    if (which == 0) {
      member.eventBus().publish(in.chance(0.5) ? Addresses.RING_HEARTBEAT : Addresses.EVENTS, body(),
          options());
      findings.sent(DOOR);
      return;
    }
    boolean local = which == 1;
    String address = in.pick(local ? nodeLocal : clusterWide);
    Object body = body();
    findings.sent(DOOR);
    String sent = Finding.brief(address + " " + describe(body), 300);
    try {
      member.eventBus().request(address, body, options()).toCompletionStage().toCompletableFuture()
          .get(REPLY_TIMEOUT_MS + 5_000, TimeUnit.MILLISECONDS);
      if (local) {
        findings.add(new Finding(DOOR, sent, "a node-local address answered another member"));
      }
    } catch (ExecutionException e) {
      String problem = problem(local, e.getCause());
      if (problem != null) {
        findings.add(new Finding(DOOR, sent, problem));
      }
    } catch (Exception e) {
      findings.add(new Finding(DOOR, sent, "no outcome: " + e.getClass().getSimpleName()));
    }
  }

  private static String problem(boolean local, Throwable t) {
    if (!(t instanceof ReplyException re)) {
      return "failed with " + t.getClass().getSimpleName();
    }
    if (local) {
      return re.failureType() == ReplyFailure.NO_HANDLERS ? null
          : "a node-local address answered another member (" + re.failureType() + ")";
    }
    if (re.failureType() == ReplyFailure.TIMEOUT) {
      return "no reply within " + REPLY_TIMEOUT_MS + " ms";
    }
    if (re.failureType() == ReplyFailure.NO_HANDLERS) {
      return "no handler for a cluster-wide address";
    }
    SnakepitException typed = SnakepitException.from(re);
    return typed.errorCode() == ErrorCode.INTERNAL ? "an untyped failure (" + Finding.brief(
        String.valueOf(re.getMessage()), 80).replaceAll("[0-9]+", "N") + ")" : null;
  }

  private DeliveryOptions options() {
    DeliveryOptions o = new DeliveryOptions().setSendTimeout(REPLY_TIMEOUT_MS);
    if (in.chance(0.3)) {
      o.addHeader(Headers.CORRELATION_ID, in.nastyString());
    }
    if (in.chance(0.2)) {
      o.addHeader(in.pick(List.of(Headers.WORKER_ID, "snakepit-node", "x")), in.nastyString());
    }
    return o;
  }

  private Object body() {
    return switch (in.below(9)) {
      case 0 -> null;
      case 1 -> in.nastyString();
      case 2 -> Buffer.buffer(in.bytes(256));
      case 3 -> in.below(1000);
      case 4 -> in.jsonArray(2);
      default -> {
        io.vertx.core.json.JsonObject o = in.jsonObject(3);
        if (in.chance(0.5)) {
          o.put("tool", in.pick(List.of("echo", "noop", "no_such_tool"))).put("args", in.jsonObject(1));
        }
        if (in.chance(0.5)) {
          o.put("id", in.chance(0.5) ? java.util.UUID.randomUUID().toString() : in.nastyString());
        }
        yield o;
      }
    };
  }

  private static String describe(Object body) {
    return body == null ? "null" : body.getClass().getSimpleName() + " " + body;
  }
}
