package io.snakepit.routing;

import io.vertx.core.Vertx;
import io.vertx.core.shareddata.LocalMap;
import io.vertx.core.shareddata.Shareable;
import java.util.ArrayList;
import java.util.List;

/**
 * A value that several holders on one node may publish under one key of a node-local map: the one published
 * last shows, and when its holder withdraws it the one published before it shows again. Two stores of one
 * adapter can be open at once on a node (a live migration between two maps of one Hazelcast cluster); each
 * publishes the node's placement and lease, and closing one must not leave the node without the other's.
 */
public final class LocalPublication {

  private LocalPublication() {
  }

  /** Who published under a key, oldest first; shared by the node's verticles, guarded by itself. */
  private static final class Holders implements Shareable {
    final List<Object> values = new ArrayList<>();
  }

  /** Publishes {@code value} under {@code key} of the node-local map {@code map}. */
  public static void publish(Vertx vertx, String map, String key, Object value) {
    LocalMap<String, Object> m = vertx.sharedData().getLocalMap(map);
    Holders h = holders(m, key);
    synchronized (h) {
      h.values.add(value);
      m.put(key, value);
    }
  }

  /**
   * Withdraws one publication of {@code value}: the latest other value still published shows again, or the key
   * is removed when there is none.
   */
  public static void withdraw(Vertx vertx, String map, String key, Object value) {
    LocalMap<String, Object> m = vertx.sharedData().getLocalMap(map);
    Holders h = holders(m, key);
    synchronized (h) {
      h.values.remove(value);
      if (h.values.isEmpty()) {
        m.remove(key);
      } else {
        m.put(key, h.values.get(h.values.size() - 1));
      }
    }
  }

  private static Holders holders(LocalMap<String, Object> m, String key) {
    String k = key + "#holders";
    Object existing = m.get(k);
    if (existing instanceof Holders h) {
      return h;
    }
    Holders fresh = new Holders();
    Object raced = m.putIfAbsent(k, fresh);
    return raced instanceof Holders h ? h : fresh;
  }
}
