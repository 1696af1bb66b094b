package io.snakepit.session.sealing;

import io.snakepit.session.Session;
import io.snakepit.session.Stamped;
import io.snakepit.session.sealing.ValueSealer.Kind;
import java.util.Collections;
import java.util.HashMap;
import java.util.IdentityHashMap;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.ConcurrentHashMap;
import java.util.function.Supplier;

/**
 * Seals and opens every value of a whole {@link Session}, entry by entry.
 *
 * <p>What stays in clear, and why: the session id, times, TTL, version, the
 * names of entries, their hybrid-logical-clock stamps and nodes, tombstones
 * (the store's entry processors merge and expire by them on the partition
 * owner, which holds no key); counters (a CRDT that the owner adds to and
 * merges); and the served-by record ({@link Session#SERVED_KEY}, node and
 * worker ids the owner writes). Every other value of metadata, programs and
 * variables, handed-off Python-side state included, is sealed.
 *
 * <p>{@link #open} remembers, for the session it opened, which sealed entry
 * each clear entry came from, so that {@link #seal} of a changed copy seals
 * only the entries that changed and keeps the others' ciphertexts.
 */
final class SessionSealer {

  /** Past this many remembered values the memory of opened values starts afresh. */
  static final int REMEMBERED_MAX = 65_536;

  private final Supplier<DataKeyRing> ring;
  private final boolean acceptClear;
  /**
   * Values this node sealed or opened, by their sealed form: a store answers a whole session to every write,
   * and most of its values are the ones it answered last time, so each is decrypted once, not at every write.
   * An entry counts only for the same ring (a changed key file empties it in effect), session, kind and name,
   * so a ciphertext moved elsewhere is still decrypted, and refused.
   */
  private final Map<String, Remembered> opened = new ConcurrentHashMap<>();

  private record Remembered(DataKeyRing ring, String sessionId, Kind kind, String name, Object value) {
  }

  /**
   * @param ring        the current key ring (it changes when the key file does)
   * @param acceptClear whether a value in clear is read as it is (a file written before encryption was on)
   *                    rather than refused
   */
  SessionSealer(Supplier<DataKeyRing> ring, boolean acceptClear) {
    this.ring = ring;
    this.acceptClear = acceptClear;
  }

  DataKeyRing ring() {
    return ring.get();
  }

  /** Seals one value with the active key, and remembers it. */
  String sealValue(String sessionId, Kind kind, String name, Object value) {
    DataKeyRing r = ring.get();
    String sealed = ValueSealer.seal(r, sessionId, kind, name, value);
    remember(sealed, new Remembered(r, sessionId, kind, name, value));
    return sealed;
  }

  /** Opens one sealed value ({@link ValueSealer#open}), from memory when this node sealed or opened it before. */
  Object openValue(String sessionId, Kind kind, String name, Object sealed) {
    DataKeyRing r = ring.get();
    if (sealed instanceof String text) {
      Remembered m = opened.get(text);
      if (m != null && m.ring() == r && m.kind() == kind && m.sessionId().equals(sessionId)
          && m.name().equals(name)) {
        return m.value();
      }
    }
    Object value = ValueSealer.open(r, sessionId, kind, name, sealed);
    remember((String) sealed, new Remembered(r, sessionId, kind, name, value));
    return value;
  }

  private void remember(String sealed, Remembered m) {
    if (opened.size() >= REMEMBERED_MAX) {
      opened.clear();
    }
    opened.put(sealed, m);
  }

  /** An opened session and where its clear entries came from. */
  record Opened(Session session, Map<Stamped, Stamped> sealedOf, Set<Stamped> legacy) {
  }

  /** The session with every sealed value opened; {@code integrity_failed} if one does not open. */
  Session open(Session sealed) {
    // Untracked: most sessions opened are answers to a caller, never sealed again.
    return sealed == null ? null : opened(sealed, null, null);
  }

  Opened openTracked(Session s) {
    Map<Stamped, Stamped> origin = new IdentityHashMap<>();
    Set<Stamped> legacy = Collections.newSetFromMap(new IdentityHashMap<>());
    return new Opened(opened(s, origin, legacy), origin, legacy);
  }

  private Session opened(Session s, Map<Stamped, Stamped> origin, Set<Stamped> legacy) {
    DataKeyRing r = ring.get();
    return new Session(s.id(), s.createdAt(), s.accessedAt(), s.ttlMs(), s.version(), s.lastNode(),
        s.lastWorker(), openAll(r, s, Kind.METADATA, s.metadata(), origin, legacy),
        openAll(r, s, Kind.PROGRAM, s.programs(), origin, legacy),
        openAll(r, s, Kind.VARIABLE, s.variables(), origin, legacy), s.deletedHlc());
  }

  private Map<String, Stamped> openAll(DataKeyRing r, Session s, Kind kind, Map<String, Stamped> m,
                                       Map<Stamped, Stamped> origin, Set<Stamped> legacy) {
    if (m.isEmpty()) {
      return m;
    }
    Map<String, Stamped> out = new HashMap<>(m.size() * 2);
    m.forEach((name, e) -> {
      Stamped clear;
      if (inClear(kind, name, e)) {
        clear = e;
      } else if (acceptClear && !ValueSealer.isSealed(e.value())) {
        clear = e;
        if (legacy != null) {
          legacy.add(e);
        }
      } else {
        clear = new Stamped(openValue(s.id(), kind, name, e.value()), e.hlc(), e.node(), false);
      }
      if (origin != null) {
        origin.put(clear, e);
      }
      out.put(name, clear);
    });
    return out;
  }

  /** The session with every value sealed that is not already; entries found in {@code sealedOf} are reused. */
  Session seal(Session s, Map<Stamped, Stamped> sealedOf) {
    if (s == null) {
      return null;
    }
    DataKeyRing r = ring.get();
    return new Session(s.id(), s.createdAt(), s.accessedAt(), s.ttlMs(), s.version(), s.lastNode(),
        s.lastWorker(), sealAll(r, s.id(), Kind.METADATA, s.metadata(), sealedOf),
        sealAll(r, s.id(), Kind.PROGRAM, s.programs(), sealedOf),
        sealAll(r, s.id(), Kind.VARIABLE, s.variables(), sealedOf), s.deletedHlc());
  }

  private Map<String, Stamped> sealAll(DataKeyRing r, String id, Kind kind, Map<String, Stamped> m,
                                              Map<Stamped, Stamped> sealedOf) {
    if (m.isEmpty()) {
      return m;
    }
    Map<String, Stamped> out = new HashMap<>(m.size() * 2);
    m.forEach((name, e) -> {
      Stamped known = sealedOf.get(e);
      out.put(name, known != null ? known : inClear(kind, name, e) ? e
          : new Stamped(sealValue(id, kind, name, e.value()), e.hlc(), e.node(), false));
    });
    return out;
  }

  /**
   * The same session with every value that is in clear, or sealed with another key than the active one, sealed
   * afresh with the active key (same stamps, the version one higher); {@code s} itself when there is none. Used
   * by the rotation.
   */
  Session resealed(Session s) {
    Opened o = openTracked(s);
    String active = ring.get().activeId();
    Map<Stamped, Stamped> keep = new IdentityHashMap<>();
    o.sealedOf().forEach((clear, sealed) -> {
      boolean stays = clear == sealed ? !o.legacy().contains(clear)
          : active.equals(ValueSealer.keyIdOf(sealed.value()));
      if (stays) {
        keep.put(clear, sealed);
      }
    });
    if (keep.size() == o.sealedOf().size()) {
      return s;
    }
    Session r = seal(o.session(), keep);
    // A new version, though the content is the same: an optimistic update that read the copy before this one
    // must fail its compare-version-and-set and retry, not store the old ciphertexts back over the new ones.
    return new Session(r.id(), r.createdAt(), r.accessedAt(), r.ttlMs(), r.version() + 1, r.lastNode(),
        r.lastWorker(), r.metadata(), r.programs(), r.variables(), r.deletedHlc());
  }

  /** Entries that stay in clear: tombstones, counters, the served-by record. */
  private static boolean inClear(Kind kind, String name, Stamped e) {
    return e.deleted() || e.isCounter() || (kind == Kind.METADATA && Session.SERVED_KEY.equals(name));
  }
}
