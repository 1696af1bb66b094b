package io.snakepit.contract;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.List;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * A verticle's cluster-wide event-bus consumers, which it can register again.
 *
 * <p>Why: after a member of the cluster was frozen or cut off and comes back,
 * the clustered event bus can lose subscriptions (Hazelcast merges the two
 * sides' subscription maps, and a side may drop the other's entries; see
 * eclipse-vertx/vert.x#4394). A node that notices it (its router no longer
 * hears its own heartbeats) publishes {@link Addresses#RESUBSCRIBE} on the
 * local bus, and every verticle registers its consumers again, which puts
 * them back in the cluster's map.
 */
public final class ClusterSubscriptions {

  private static final Logger LOG = LoggerFactory.getLogger(ClusterSubscriptions.class);

  private record Subscription(String address, Handler<Message<Object>> handler) {
  }

  private final Vertx vertx;
  private final List<Subscription> subscriptions = new ArrayList<>();
  private final List<MessageConsumer<Object>> consumers = new ArrayList<>();
  private final MessageConsumer<Object> renewal;

  public ClusterSubscriptions(Vertx vertx) {
    this.vertx = vertx;
    this.renewal = vertx.eventBus().localConsumer(Addresses.RESUBSCRIBE, m -> renew());
  }

  /**
   * Registers a cluster-wide consumer of JSON objects; completes once it is registered. Any other body
   * (another member may send anything) is refused before {@code handler} sees it: a request with a typed
   * {@code bad_request}, a publish or send by being dropped.
   */
  public Future<Void> add(String address, Handler<Message<JsonObject>> handler) {
    return addAny(address, m -> {
      if (m.body() instanceof JsonObject) {
        @SuppressWarnings("unchecked")
        Message<JsonObject> json = (Message<JsonObject>) (Message<?>) m;
        handler.handle(json);
      } else if (m.replyAddress() != null) {
        new SnakepitException(ErrorCode.BAD_REQUEST, "'" + address + "' takes a JSON object, not "
            + (m.body() == null ? "an empty body" : m.body().getClass().getSimpleName()) + "; see docs/event-bus.md.")
            .withCorrelationId(m.headers().get(Headers.CORRELATION_ID)).failMessage(m);
      } else {
        LOG.debug("Dropped a {} published to {}: it takes a JSON object", m.body() == null ? "null"
            : m.body().getClass().getSimpleName(), address);
      }
    });
  }

  /** Registers a cluster-wide consumer of any body type; the handler checks what it got. */
  public Future<Void> addAny(String address, Handler<Message<Object>> handler) {
    subscriptions.add(new Subscription(address, handler));
    MessageConsumer<Object> c = vertx.eventBus().consumer(address, handler);
    consumers.add(c);
    return c.completion();
  }

  /** Registers every consumer again: a new registration first, then the old one goes. */
  public void renew() {
    for (int i = 0; i < subscriptions.size(); i++) {
      Subscription s = subscriptions.get(i);
      MessageConsumer<Object> old = consumers.get(i);
      consumers.set(i, vertx.eventBus().consumer(s.address(), s.handler()));
      old.unregister();
    }
  }

  /** Unregisters everything. */
  public Future<Void> close() {
    List<Future<Void>> done = new ArrayList<>();
    consumers.forEach(c -> done.add(c.unregister()));
    done.add(renewal.unregister());
    return Future.join(done).mapEmpty();
  }
}
