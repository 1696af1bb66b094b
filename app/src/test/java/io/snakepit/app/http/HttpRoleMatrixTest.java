package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The role matrix of docs/security.md over every operation of the HTTP API, against a real node with a keys
 * file: no token is 401 (except the probes and the contract), a role outside the row is 403, a role inside it
 * gets past authorization (any other answer). A caller works in its own session here; another caller's is in
 * {@link #aCallerReachesOnlyTheSessionsItCreated}.
 */
class HttpRoleMatrixTest {

  static SecuredNode secured;

  private static final String C = SecuredNode.CALLER;
  private static final String R = SecuredNode.READER;
  private static final String O = SecuredNode.OPERATOR;
  private static final String A = SecuredNode.ADMIN;
  private static final List<String> ROLES = List.of(C, R, O, A);
  private static final String SESSION = "/v1/sessions/s-alice";

  /** One request per operation, and the key names allowed to make it; written from docs/security.md. */
  record Case(String method, String path, String body, Set<String> allowed) {
  }

  static final Map<String, Case> MATRIX = new LinkedHashMap<>();

  static {
    MATRIX.put("health", new Case("GET", "/health", null, null));
    MATRIX.put("ready", new Case("GET", "/ready", null, null));
    MATRIX.put("execute", new Case("POST", "/v1/execute", "{\"tool\":\"echo\",\"args\":{}}", Set.of(C, O, A)));
    MATRIX.put("executeStream", new Case("POST", "/v1/execute/stream", "{\"tool\":\"count\",\"args\":{\"n\":1}}",
        Set.of(C, O, A)));
    MATRIX.put("listWorkers", new Case("GET", "/v1/workers", null, Set.of(R, O, A)));
    MATRIX.put("listPools", new Case("GET", "/v1/pools", null, Set.of(R, O, A)));
    MATRIX.put("createSession", new Case("POST", "/v1/sessions", "{}", Set.of(C, O, A)));
    MATRIX.put("listSessions", new Case("GET", "/v1/sessions", null, Set.of(R, O, A)));
    MATRIX.put("exportSessions", new Case("GET", "/v1/sessions/export", null, Set.of(O, A)));
    MATRIX.put("importSessions", new Case("POST", "/v1/sessions/import", "", Set.of(O, A)));
    MATRIX.put("getSession", new Case("GET", SESSION, null, Set.of(C, R, O, A)));
    MATRIX.put("listVariables", new Case("GET", SESSION + "/variables", null, Set.of(C, R, O, A)));
    MATRIX.put("getVariable", new Case("GET", SESSION + "/variables/x", null, Set.of(C, R, O, A)));
    MATRIX.put("putVariable", new Case("PUT", SESSION + "/variables/x", "{\"value\":1}", Set.of(C, O, A)));
    MATRIX.put("incrementVariable", new Case("POST", SESSION + "/variables/n/increment", "{}", Set.of(C, O, A)));
    MATRIX.put("deleteVariable", new Case("DELETE", SESSION + "/variables/y", null, Set.of(C, O, A)));
    MATRIX.put("getProgram", new Case("GET", SESSION + "/programs/p", null, Set.of(C, R, O, A)));
    MATRIX.put("putProgram", new Case("PUT", SESSION + "/programs/p", "{\"steps\":[]}", Set.of(C, O, A)));
    MATRIX.put("executeInSession", new Case("POST", SESSION + "/execute", "{\"tool\":\"echo\"}", Set.of(C, O, A)));
    MATRIX.put("executeStreamInSession", new Case("POST", SESSION + "/execute/stream",
        "{\"tool\":\"count\",\"args\":{\"n\":1}}", Set.of(C, O, A)));
    MATRIX.put("sessionsHealth", new Case("GET", "/health/sessions", null, Set.of(R, O, A)));
    MATRIX.put("getCluster", new Case("GET", "/v1/cluster", null, Set.of(R, O, A)));
    // A stream that does not end: SecuredNode.send reads its first event (the snapshot) and lets go.
    MATRIX.put("dashboardStream", new Case("GET", "/v1/dashboard/stream", null, Set.of(R, O, A)));
    // The page's static files hold no data: open, like the probes.
    MATRIX.put("dashboard", new Case("GET", "/dashboard", null, null));
    MATRIX.put("metrics", new Case("GET", "/metrics", null, Set.of(R, O, A)));
    MATRIX.put("reloadPool", new Case("POST", "/v1/pools/default/reload", null, Set.of(A)));
    // This node has no data keys: an admin's start is a typed 400, past authorization all the same.
    MATRIX.put("startDataKeyRotation", new Case("POST", "/v1/admin/data-keys/rotate", null, Set.of(A)));
    MATRIX.put("getDataKeyRotation", new Case("GET", "/v1/admin/data-keys/rotate", null, Set.of(R, O, A)));
    // No migration runs on this node: an admin's step is a typed 400 or 409, past authorization all the same.
    MATRIX.put("startMigration", new Case("POST", "/v1/admin/migration", "{\"to\":\"nosuch\"}", Set.of(A)));
    MATRIX.put("getMigration", new Case("GET", "/v1/admin/migration", null, Set.of(R, O, A)));
    MATRIX.put("verifyMigration", new Case("POST", "/v1/admin/migration/verify", null, Set.of(A)));
    MATRIX.put("repairMigration", new Case("POST", "/v1/admin/migration/repair", null, Set.of(A)));
    MATRIX.put("cutoverMigration", new Case("POST", "/v1/admin/migration/cutover", null, Set.of(A)));
    MATRIX.put("commitMigration", new Case("POST", "/v1/admin/migration/commit", null, Set.of(A)));
    MATRIX.put("rollbackMigration", new Case("POST", "/v1/admin/migration/rollback", null, Set.of(A)));
    // Last: it ends the session the others use.
    MATRIX.put("deleteSession", new Case("DELETE", SESSION, null, Set.of(C, O, A)));
    // Only refusals here: an admin's drain stops the node (HttpAuditTest drains one).
    MATRIX.put("drainNode", new Case("POST", "/v1/admin/drain", null, Set.of(A)));
  }

  @BeforeAll
  static void start() throws Exception {
    secured = SecuredNode.start("roles", new JsonObject(), new JsonObject());
    assertThat(secured.send(C, "POST", "/v1/sessions", "{\"id\":\"s-alice\"}").statusCode()).isEqualTo(201);
  }

  @AfterAll
  static void stop() throws Exception {
    if (secured != null) {
      secured.close();
    }
  }

  @Test
  void everyOperationOfTheContractIsInTheMatrix() throws Exception {
    JsonObject contract = new JsonObject(secured.send(null, "GET", "/openapi.json", null).body());
    Set<String> ops = new TreeSet<>();
    contract.getJsonObject("paths").forEach(p -> ((JsonObject) p.getValue()).forEach(m -> {
      if (m.getValue() instanceof JsonObject op && op.getString("operationId") != null) {
        ops.add(op.getString("operationId"));
      }
    }));
    Set<String> covered = new TreeSet<>(MATRIX.keySet());
    covered.remove("metrics");
    covered.remove("dashboard");
    assertThat(covered).isEqualTo(ops);
  }

  @Test
  void eachRoleGetsWhatTheMatrixSaysAndNoTokenGetsOnlyTheProbes() throws Exception {
    List<String> wrong = new ArrayList<>();
    for (Map.Entry<String, Case> e : MATRIX.entrySet()) {
      Case c = e.getValue();
      HttpResponse<String> anonymous = secured.send(null, c.method(), c.path(), c.body());
      int expected = c.allowed() == null ? 200 : 401;
      if (anonymous.statusCode() != expected) {
        wrong.add(e.getKey() + " without a token: " + anonymous.statusCode() + " " + anonymous.body());
      } else if (expected == 401) {
        assertThat(new JsonObject(anonymous.body()).getJsonObject("error").getString("code"))
            .isEqualTo("unauthenticated");
        assertThat(anonymous.headers().firstValue("WWW-Authenticate")).hasValueSatisfying(v ->
            assertThat(v).startsWith("Bearer"));
      }
      if (c.allowed() == null) {
        continue;
      }
      for (String role : ROLES) {
        if (e.getKey().equals("drainNode") && c.allowed().contains(role)) {
          continue;
        }
        HttpResponse<String> r = secured.send(role, c.method(), c.path(), c.body());
        boolean refused = r.statusCode() == 401 || r.statusCode() == 403;
        if (c.allowed().contains(role) == refused) {
          wrong.add(e.getKey() + " as " + role + ": " + r.statusCode() + " " + r.body());
        }
        if (r.statusCode() == 403) {
          JsonObject err = new JsonObject(r.body()).getJsonObject("error");
          assertThat(err.getString("code")).isEqualTo("forbidden");
          assertThat(err.getString("correlation_id")).isEqualTo(r.headers().firstValue("X-Correlation-Id")
              .orElseThrow());
        }
      }
    }
    assertThat(wrong).isEmpty();
  }

  @Test
  void aCallerReachesOnlyTheSessionsItCreated() throws Exception {
    String other = SecuredNode.OTHER_CALLER;
    assertThat(secured.send(C, "POST", "/v1/sessions", "{\"id\":\"s-own\",\"metadata\":{\"snakepit.principal\":\""
        + other + "\"}}").statusCode()).isEqualTo(201);
    // The creator is who the key says, whatever the body claims.
    JsonObject s = new JsonObject(secured.send(C, "GET", "/v1/sessions/s-own", null).body());
    assertThat(s.getJsonObject("metadata").getString("snakepit.principal")).isEqualTo(C);
    List<String[]> tries = List.of(new String[] {"GET", "/v1/sessions/s-own", null},
        new String[] {"GET", "/v1/sessions/s-own/variables", null},
        new String[] {"PUT", "/v1/sessions/s-own/variables/x", "{\"value\":2}"},
        new String[] {"POST", "/v1/sessions/s-own/execute", "{\"tool\":\"echo\"}"},
        new String[] {"POST", "/v1/execute", "{\"tool\":\"echo\",\"session_id\":\"s-own\"}"},
        // Create is idempotent: naming an existing id must not hand its record over.
        new String[] {"POST", "/v1/sessions", "{\"id\":\"s-own\"}"},
        new String[] {"DELETE", "/v1/sessions/s-own", null});
    for (String[] t : tries) {
      HttpResponse<String> r = secured.send(other, t[0], t[1], t[2]);
      assertThat(r.statusCode()).as(t[0] + " " + t[1]).isEqualTo(403);
      assertThat(r.body()).doesNotContain("\"variables\"");
    }
    // Nothing changed: the session is still there, with its creator.
    assertThat(secured.send(O, "GET", "/v1/sessions/s-own", null).statusCode()).isEqualTo(200);
    assertThat(secured.send(C, "POST", "/v1/execute", "{\"tool\":\"echo\",\"session_id\":\"s-own\"}").statusCode())
        .isEqualTo(200);
  }

  @Test
  void aKeyLimitedToSomeToolsCallsOnlyThose() throws Exception {
    String echoOnly = SecuredNode.ECHO_ONLY;
    assertThat(secured.send(echoOnly, "POST", "/v1/execute", "{\"tool\":\"echo\",\"args\":{\"a\":1}}").statusCode())
        .isEqualTo(200);
    HttpResponse<String> r = secured.send(echoOnly, "POST", "/v1/execute", "{\"tool\":\"add\",\"args\":{\"a\":1,\"b\":2}}");
    assertThat(r.statusCode()).isEqualTo(403);
    assertThat(new JsonObject(r.body()).getJsonObject("error").getString("message")).contains("[echo]");
    assertThat(secured.send(echoOnly, "POST", "/v1/execute/stream", "{\"tool\":\"count\",\"args\":{\"n\":1}}")
        .statusCode()).isEqualTo(403);
  }

  @Test
  void aBadOrForeignTokenIsUnauthenticatedAndNeverEchoed() throws Exception {
    String forged = "sp_" + "A".repeat(43);
    for (String header : List.of("Bearer " + forged, "Basic dXNlcjpwYXNz", "Bearer", "Bearer a b",
        "Bearer eyJhbGciOiJIUzI1NiJ9.e30.x")) {
      HttpResponse<String> r = secured.node.http.send(secured.node.request("GET", "/v1/pools", null)
          .header("Authorization", header).build(), HttpResponse.BodyHandlers.ofString());
      assertThat(r.statusCode()).as(header).isEqualTo(401);
      assertThat(r.body()).doesNotContain(forged).doesNotContain("dXNlcjpwYXNz").doesNotContain("eyJhbGciOiJIUzI1NiJ9");
    }
    // An authenticated client meets 404 for a path no operation serves; a stranger meets 401 first.
    assertThat(secured.send(A, "GET", "/v1/nothing", null).statusCode()).isEqualTo(404);
    assertThat(secured.send(null, "GET", "/v1/nothing", null).statusCode()).isEqualTo(401);
  }
}
