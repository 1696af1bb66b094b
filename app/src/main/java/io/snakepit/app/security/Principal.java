package io.snakepit.app.security;

import java.util.Set;

/**
 * Who a request comes from, once authenticated: a key of the keys file or the subject of a JWT.
 *
 * @param name   the key's name or the token's subject; recorded as a session's creator and in the audit log
 * @param role   what it may do
 * @param pools  the pools it may call, or empty for all
 * @param tools  the tools it may call, or empty for all
 * @param limits per-key rate limits that replace the node's ({@code security.rate-limits} keys), or null
 * @param source {@code key}, {@code jwt}, or {@code none} when authentication is off
 */
public record Principal(String name, Role role, Set<String> pools, Set<String> tools, RateLimitSettings limits,
                        String source) {

  /** Everyone, when the node has no authentication configured: an admin, as the node was before it had any. */
  public static final Principal ANONYMOUS = new Principal("anonymous", Role.ADMIN, Set.of(), Set.of(), null, "none");

  public Principal {
    pools = pools == null ? Set.of() : Set.copyOf(pools);
    tools = tools == null ? Set.of() : Set.copyOf(tools);
  }

  /** Whether this is the anonymous principal of a node without authentication. */
  public boolean anonymous() {
    return "none".equals(source);
  }
}
