package io.snakepit.app.http;

import io.snakepit.app.security.Access;
import io.snakepit.app.security.RateKind;
import io.vertx.core.http.HttpMethod;
import io.vertx.core.json.JsonObject;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

/**
 * What each operation of the HTTP API needs: its {@link Access}, whether it counts against the call or the
 * session-write rate, and the audit event it records. Operations are found by method and path from the OpenAPI
 * contract itself, before the body is read, so a request that may not run is refused without reading it.
 * docs/security.md shows this table as the role matrix; {@code HttpRoleMatrixTest} holds the two together.
 */
final class HttpAccessRules {

  /** One operation's rule. {@code sessionParam}: the path parameter naming the session, or null. */
  record Rule(String operationId, Access access, RateKind rate, String auditEvent, String sessionParam) {
  }

  /** The rules by operation id; an operation missing here does not start (see {@link #from}). */
  static final Map<String, Rule> RULES = Map.ofEntries(
      rule("execute", Access.CALL, RateKind.CALL, null),
      rule("executeStream", Access.CALL, RateKind.CALL, null),
      rule("listWorkers", Access.READ, RateKind.NONE, null),
      rule("listPools", Access.READ, RateKind.NONE, null),
      rule("reloadPool", Access.ADMIN, RateKind.NONE, "pool.reload"),
      rule("createSession", Access.CALL, RateKind.WRITE, null),
      rule("listSessions", Access.READ, RateKind.NONE, null),
      rule("exportSessions", Access.OPERATE, RateKind.NONE, "sessions.export"),
      rule("importSessions", Access.OPERATE, RateKind.NONE, "sessions.import"),
      session("getSession", Access.SESSION_READ, RateKind.NONE, null),
      session("deleteSession", Access.SESSION_WRITE, RateKind.WRITE, "session.delete"),
      session("listVariables", Access.SESSION_READ, RateKind.NONE, null),
      session("getVariable", Access.SESSION_READ, RateKind.NONE, null),
      session("putVariable", Access.SESSION_WRITE, RateKind.WRITE, null),
      session("deleteVariable", Access.SESSION_WRITE, RateKind.WRITE, null),
      session("incrementVariable", Access.SESSION_WRITE, RateKind.WRITE, null),
      session("getProgram", Access.SESSION_READ, RateKind.NONE, null),
      session("putProgram", Access.SESSION_WRITE, RateKind.WRITE, null),
      session("executeInSession", Access.SESSION_WRITE, RateKind.CALL, null),
      session("executeStreamInSession", Access.SESSION_WRITE, RateKind.CALL, null),
      // The probes answer without a token: Kubernetes' kubelet and load balancers carry none.
      rule("health", Access.OPEN, RateKind.NONE, null),
      rule("ready", Access.OPEN, RateKind.NONE, null),
      rule("sessionsHealth", Access.READ, RateKind.NONE, null),
      rule("getCluster", Access.READ, RateKind.NONE, null),
      rule("dashboardStream", Access.READ, RateKind.NONE, null),
      rule("drainNode", Access.ADMIN, RateKind.NONE, "node.drain"),
      rule("startDataKeyRotation", Access.ADMIN, RateKind.NONE, "data-keys.rotate"),
      rule("getDataKeyRotation", Access.READ, RateKind.NONE, null),
      rule("startMigration", Access.ADMIN, RateKind.NONE, "migration.start"),
      rule("getMigration", Access.READ, RateKind.NONE, null),
      rule("verifyMigration", Access.ADMIN, RateKind.NONE, "migration.verify"),
      rule("repairMigration", Access.ADMIN, RateKind.NONE, "migration.repair"),
      rule("cutoverMigration", Access.ADMIN, RateKind.NONE, "migration.cutover"),
      rule("commitMigration", Access.ADMIN, RateKind.NONE, "migration.commit"),
      rule("rollbackMigration", Access.ADMIN, RateKind.NONE, "migration.rollback"));

  private static Map.Entry<String, Rule> rule(String op, Access access, RateKind rate, String audit) {
    return Map.entry(op, new Rule(op, access, rate, audit, null));
  }

  private static Map.Entry<String, Rule> session(String op, Access access, RateKind rate, String audit) {
    return Map.entry(op, new Rule(op, access, rate, audit, "id"));
  }

  /** Where the live cluster page's static files are served. */
  static final String DASHBOARD = "/dashboard";
  /** {@code /dashboard}, {@code /dashboard/} and {@code /dashboard/<file>}, a file name not starting with a dot. */
  private static final Pattern DASHBOARD_FILE = Pattern.compile("^/dashboard(/([A-Za-z0-9_-][A-Za-z0-9._-]*)?)?$");

  private record Matchable(HttpMethod method, Pattern path, int literals, Rule rule) {
  }

  private final List<Matchable> operations;
  private final Rule metrics;

  private HttpAccessRules(List<Matchable> operations, Rule metrics) {
    this.operations = operations;
    this.metrics = metrics;
  }

  /**
   * The rules of every operation of {@code contract}. Throws when the contract has an operation without a rule:
   * a new route must say who may use it before it can be served.
   */
  static HttpAccessRules from(JsonObject contract, boolean publicMetrics) {
    List<Matchable> ops = new ArrayList<>();
    JsonObject paths = contract.getJsonObject("paths");
    for (String path : paths.fieldNames()) {
      JsonObject item = paths.getJsonObject(path);
      for (String method : item.fieldNames()) {
        if (!(item.getValue(method) instanceof JsonObject op) || op.getString("operationId") == null) {
          continue;
        }
        Rule rule = RULES.get(op.getString("operationId"));
        if (rule == null) {
          throw new IllegalStateException("operation " + op.getString("operationId") + " has no access rule in "
              + "HttpAccessRules");
        }
        ops.add(new Matchable(HttpMethod.valueOf(method.toUpperCase(java.util.Locale.ROOT)), pattern(path),
            path.replaceAll("\\{[^}]+}", "").length(), rule));
      }
    }
    // Literal segments win over parameters: GET /v1/sessions/export is not GET /v1/sessions/{id}.
    ops.sort(Comparator.comparingInt((Matchable m) -> m.literals).reversed());
    return new HttpAccessRules(List.copyOf(ops),
        new Rule("metrics", publicMetrics ? Access.OPEN : Access.READ, RateKind.NONE, null, null));
  }

  private static Pattern pattern(String template) {
    StringBuilder re = new StringBuilder("^");
    Matcher m = Pattern.compile("\\{([^}]+)}").matcher(template);
    int at = 0;
    while (m.find()) {
      re.append(Pattern.quote(template.substring(at, m.start()))).append("(?<")
          .append(m.group(1).replace("_", "")).append(">[^/]+)");
      at = m.end();
    }
    return Pattern.compile(re.append(Pattern.quote(template.substring(at))).append("$").toString());
  }

  /** The rule of a request, or null for a path no operation serves (it still needs a token; then 404). */
  Rule match(HttpMethod method, String path) {
    if (path.equals("/openapi.json")) {
      return new Rule("openapi", Access.OPEN, RateKind.NONE, null, null);
    }
    // The live cluster page's static files hold no data (its stream, dashboardStream, needs a reader): a browser
    // loads them without a token, and the page then asks for a key (docs/dashboard.md).
    // Matched on the raw path, as every rule is, but the router serves the normalised one: only plain file names
    // (no "..", no escapes, no deeper folders) are open, or /dashboard/../v1/sessions would pass as a page file.
    if (method == HttpMethod.GET && DASHBOARD_FILE.matcher(path).matches()) {
      return new Rule("dashboard", Access.OPEN, RateKind.NONE, null, null);
    }
    if (path.equals("/metrics")) {
      return metrics;
    }
    for (Matchable m : operations) {
      if (m.method.equals(method) && m.path.matcher(path).matches()) {
        return m.rule;
      }
    }
    return null;
  }
}
