package io.snakepit.app;

import io.snakepit.contract.ErrorCode;
import io.snakepit.contract.SnakepitException;
import io.vertx.core.json.JsonObject;
import java.util.Objects;

/**
 * Whether a node serves calls: {@link Phase#STARTING} until everything that
 * serves them is deployed, {@link Phase#SERVING}, then {@link Phase#STOPPING}
 * once its drain has finished and its APIs are about to go. The {@link Node}
 * owns it and moves it forward; the HTTP and gRPC APIs read it, and answer
 * every call but the probes with a retryable {@code starting} or
 * {@code shutting_down} error (HTTP 503 with {@code Retry-After}, gRPC
 * {@code UNAVAILABLE}) while it is not serving, instead of letting the call
 * find no consumer on the event bus. Thread-safe: the node's thread writes,
 * event loops read.
 */
public final class ServingState {

  /** The phases, in the only order a node goes through them. */
  public enum Phase {
    STARTING, SERVING, STOPPING
  }

  /** What the APIs ask a refused client to wait, in seconds, before it retries. */
  public static final int RETRY_AFTER_S = 1;

  private final String nodeId;
  private volatile Phase phase;

  private ServingState(String nodeId, Phase phase) {
    this.nodeId = Objects.requireNonNull(nodeId);
    this.phase = phase;
  }

  /** A node that is starting: the APIs refuse calls until {@link #serving()}. */
  public static ServingState starting(String nodeId) {
    return new ServingState(nodeId, Phase.STARTING);
  }

  /**
   * Serving from the start: for an application that deploys the API verticles
   * itself, with whatever they call deployed before them.
   */
  public static ServingState alwaysServing(String nodeId) {
    return new ServingState(nodeId, Phase.SERVING);
  }

  public Phase phase() {
    return phase;
  }

  public String nodeId() {
    return nodeId;
  }

  public boolean isServing() {
    return phase == Phase.SERVING;
  }

  /** Everything that serves calls is deployed. Does nothing once stopping: a node never serves again. */
  public synchronized void serving() {
    if (phase == Phase.STARTING) {
      phase = Phase.SERVING;
    }
  }

  /** The node's drain is over and its APIs are about to be undeployed: refuse every new call. */
  public synchronized void stopping() {
    phase = Phase.STOPPING;
  }

  /**
   * Why a call that arrives now is refused: a {@code starting} or a
   * {@code shutting_down} error, with {@code node} and {@code retry_after_s}
   * among its fields; null while serving.
   */
  public SnakepitException refusal() {
    return switch (phase) {
      case SERVING -> null;
      case STARTING -> new SnakepitException(ErrorCode.STARTING, "Node " + nodeId + " is starting and serves no "
          + "calls yet; retry after " + RETRY_AFTER_S + " s (Retry-After), or send the call to another node.", null,
          details());
      case STOPPING -> new SnakepitException(ErrorCode.SHUTTING_DOWN, "Node " + nodeId + " is stopping and takes no "
          + "new calls; send the call to another node, or retry after " + RETRY_AFTER_S
          + " s (Retry-After) in case it restarts.", null, details());
    };
  }

  private JsonObject details() {
    return new JsonObject().put("node", nodeId).put("retry_after_s", RETRY_AFTER_S);
  }

  @Override
  public String toString() {
    return phase.name().toLowerCase(java.util.Locale.ROOT);
  }
}
