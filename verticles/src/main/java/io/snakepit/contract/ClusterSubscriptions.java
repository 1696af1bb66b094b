package io.snakepit.contract;

import io.vertx.core.Future;
import io.vertx.core.Handler;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.Message;
import io.vertx.core.eventbus.MessageConsumer;
import java.util.ArrayList;
import java.util.List;

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

  /** Registers a cluster-wide consumer; completes once it is registered. */
  @SuppressWarnings("unchecked")
  public <T> Future<Void> add(String address, Handler<Message<T>> handler) {
    Handler<Message<Object>> h = (Handler<Message<Object>>) (Handler<?>) handler;
    subscriptions.add(new Subscription(address, h));
    MessageConsumer<Object> c = vertx.eventBus().consumer(address, h);
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
