package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.ErrorCode;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.TreeSet;
import java.util.UUID;
import java.util.concurrent.atomic.AtomicReference;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.Yaml;

/**
 * The monitoring assets in docker/: the Prometheus alert rules and their unit tests, the scrape
 * configuration, and the Grafana dashboard. promtool checks the rules, runs their tests and
 * parses every dashboard query; a real node shows that every metric they name exists.
 */
class MonitoringAssetsTest {

  /** The repository root: surefire runs in app/, but walking up keeps the test independent of that. */
  static final Path ROOT = findRoot();
  static final Path PROMETHEUS = ROOT.resolve("docker/prometheus");
  static final Path ALERTS = PROMETHEUS.resolve("alerts.yaml");
  static final Path DASHBOARD = ROOT.resolve("docker/grafana/snakepit-dashboard.json");

  /** Metric name prefixes the node exports (docs/operations.md, "Metrics"). */
  private static final Pattern METRIC = Pattern.compile("\\b(?:snakepit|vertx|jvm|process|system)_[a-zA-Z0-9_:]*");
  /** The metrics with a pool tag (docs/operations.md, "Metrics"). */
  private static final Pattern POOL_METRIC = Pattern.compile("\\bsnakepit_(?:call|pool|worker)");
  /** Series Prometheus makes itself at scrape time, so they are in no exposition. */
  private static final Set<String> SYNTHETIC = Set.of("up");
  private static final Pattern OUTCOME_REGEX = Pattern.compile("outcome=~\"([^\"]*)\"");
  private static final Pattern GRAFANA_VARIABLE = Pattern.compile("\\$\\{([a-zA-Z0-9_]+)(?::[a-zA-Z]+)?}|\\$([a-zA-Z0-9_]+)");

  private static Path findRoot() {
    for (Path p = Path.of("").toAbsolutePath(); p != null; p = p.getParent()) {
      if (Files.isDirectory(p.resolve("docker/prometheus")) && Files.isDirectory(p.resolve("app"))) {
        return p;
      }
    }
    throw new IllegalStateException("no docker/prometheus above " + Path.of("").toAbsolutePath());
  }

  // ---- the alert rules -------------------------------------------------------------------------

  @SuppressWarnings("unchecked")
  static List<Map<String, Object>> alertRules() throws IOException {
    Map<String, Object> doc = new Yaml().load(Files.readString(ALERTS));
    List<Map<String, Object>> groups = (List<Map<String, Object>>) doc.get("groups");
    assertThat(groups).extracting(g -> g.get("name")).containsExactly("snakepit");
    return (List<Map<String, Object>>) groups.get(0).get("rules");
  }

  @Test
  void alertRulesPassPromtoolAndTheirUnitTests() throws Exception {
    Path promtool = PromTool.find();
    PromTool.Result check = PromTool.run(promtool, PROMETHEUS, "check", "rules", "alerts.yaml");
    assertThat(check.exitCode()).as("promtool check rules:\n%s", check.output()).isZero();
    assertThat(check.output()).contains("SUCCESS: " + alertRules().size() + " rules found");

    PromTool.Result test = PromTool.run(promtool, PROMETHEUS, "test", "rules", "alerts.test.yaml");
    assertThat(test.exitCode()).as("promtool test rules:\n%s", test.output()).isZero();
    assertThat(test.output()).contains("SUCCESS").doesNotContain("FAILED");
  }

  @Test
  @SuppressWarnings("unchecked")
  void everyAlertSaysHowBadAndWhatToDoAndIsUnitTestedBothWays() throws Exception {
    Set<String> names = new TreeSet<>();
    for (Map<String, Object> rule : alertRules()) {
      String name = (String) rule.get("alert");
      assertThat(name).as("only alerts in group snakepit: %s", rule).isNotNull().startsWith("Snakepit");
      assertThat(names.add(name)).as("alert names are unique: %s", name).isTrue();
      Map<String, Object> labels = (Map<String, Object>) rule.get("labels");
      assertThat(labels.get("severity")).as("%s severity", name).isIn("critical", "warning");
      assertThat(rule.get("for")).as("%s waits before firing, so one bad scrape pages no one", name).isNotNull();
      Map<String, Object> annotations = (Map<String, Object>) rule.get("annotations");
      assertThat((String) annotations.get("summary")).as("%s summary", name).isNotBlank();
      assertThat((String) annotations.get("description")).as("%s description points at the docs", name)
          .contains("docs/operations.md");
    }

    // Each alert fires in some case of alerts.test.yaml, and some case checks that it stays quiet.
    Map<String, Object> tests = new Yaml().load(Files.readString(PROMETHEUS.resolve("alerts.test.yaml")));
    Set<String> fired = new TreeSet<>();
    Set<String> quiet = new TreeSet<>();
    for (Map<String, Object> t : (List<Map<String, Object>>) tests.get("tests")) {
      for (Map<String, Object> a : (List<Map<String, Object>>) t.getOrDefault("alert_rule_test", List.of())) {
        List<?> expected = (List<?>) a.get("exp_alerts");
        (expected == null || expected.isEmpty() ? quiet : fired).add((String) a.get("alertname"));
      }
    }
    assertThat(fired).as("alerts with a firing test").isEqualTo(names);
    assertThat(quiet).as("alerts with a test where they do not fire").isEqualTo(names);
  }

  /**
   * Error ratios count server-side failures only: the codes with a 5xx status, as /health/sessions
   * does. The lists are spelled out in PromQL, so a code added to ErrorCode must be added there too.
   */
  @Test
  void errorRatiosCountExactlyTheServerSideErrorCodes() throws Exception {
    Set<String> serverSide = Arrays.stream(ErrorCode.values()).filter(c -> c.httpStatus() >= 500)
        .map(ErrorCode::code).collect(Collectors.toCollection(TreeSet::new));
    Set<String> notTheNodes = new TreeSet<>(serverSide);
    // The tool's own exception: the adapter's problem, with an alert of its own (SnakepitToolFailuresHigh).
    notTheNodes.remove(ErrorCode.TOOL_FAILED.code());

    Map<String, String> exprs = new LinkedHashMap<>();
    for (Map<String, Object> rule : alertRules()) {
      exprs.put((String) rule.get("alert"), (String) rule.get("expr"));
    }
    assertThat(outcomeSets(exprs.get("SnakepitCallErrorRatioHigh"))).containsExactly(notTheNodes);
    assertThat(outcomeSets(exprs.get("SnakepitSessionStoreErrors"))).containsExactly(serverSide);
    assertThat(exprs.get("SnakepitToolFailuresHigh")).contains("outcome=\"tool_failed\"");

    List<String> panelRatios = dashboardQueries().values().stream().filter(e -> e.contains("outcome=~"))
        .toList();
    assertThat(panelRatios).as("the dashboard's error ratio").isNotEmpty();
    for (String e : panelRatios) {
      assertThat(outcomeSets(e)).as(e).containsOnly(notTheNodes);
    }
  }

  private static List<Set<String>> outcomeSets(String expr) {
    List<Set<String>> sets = new ArrayList<>();
    Matcher m = OUTCOME_REGEX.matcher(expr);
    while (m.find()) {
      sets.add(new TreeSet<>(Arrays.asList(m.group(1).split("\\|"))));
    }
    return sets;
  }

  // ---- the scrape configuration ------------------------------------------------------------

  /** promtool check config reads rule files too, and resolves no target: it works offline. */
  @Test
  @SuppressWarnings("unchecked")
  void scrapeConfigPassesPromtoolAndScrapesEveryComposeNode() throws Exception {
    Map<String, Object> config = new Yaml().load(Files.readString(PROMETHEUS.resolve("prometheus.yml")));
    assertThat((List<String>) config.get("rule_files")).containsExactly("alerts.yaml");
    List<Map<String, Object>> jobs = (List<Map<String, Object>>) config.get("scrape_configs");
    Map<String, Object> job = jobs.stream().filter(j -> "snakepit".equals(j.get("job_name"))).findFirst()
        .orElseThrow(() -> new AssertionError("no scrape job 'snakepit', which the alerts select"));
    Set<String> targets = new TreeSet<>();
    for (Map<String, Object> sc : (List<Map<String, Object>>) job.get("static_configs")) {
      targets.addAll((List<String>) sc.get("targets"));
    }
    // The Compose services that are Snakepit nodes (they have a node id), not whatever else runs beside them.
    Map<String, Object> compose = new Yaml().load(Files.readString(ROOT.resolve("docker/compose.yaml")));
    Set<String> nodes = new TreeSet<>();
    ((Map<String, Map<String, Object>>) compose.get("services")).forEach((service, spec) -> {
      if (spec.get("environment") instanceof Map<?, ?> env && env.containsKey("SNAKEPIT_NODE_ID")) {
        nodes.add(service + ":8080");
      }
    });
    assertThat(nodes).as("nodes in docker/compose.yaml").isNotEmpty();
    assertThat(targets).as("every node of docker/compose.yaml, on its HTTP port").isEqualTo(nodes);

    Path promtool = PromTool.find();
    PromTool.Result r = PromTool.run(promtool, PROMETHEUS, "check", "config", "prometheus.yml");
    assertThat(r.exitCode()).as("promtool check config:\n%s", r.output()).isZero();
    assertThat(r.output()).contains("SUCCESS: " + alertRules().size() + " rules found");
  }

  // ---- the dashboard -------------------------------------------------------------------------

  static JsonObject dashboard() throws IOException {
    return new JsonObject(Files.readString(DASHBOARD));
  }

  /** Every panel's every query, by "panel id/refId" (rows may nest panels when collapsed). */
  static Map<String, String> dashboardQueries() throws IOException {
    Map<String, String> queries = new LinkedHashMap<>();
    for (JsonObject panel : allPanels(dashboard())) {
      for (Object t : panel.getJsonArray("targets", new JsonArray())) {
        JsonObject target = (JsonObject) t;
        queries.put(panel.getInteger("id") + "/" + target.getString("refId"), target.getString("expr"));
      }
    }
    return queries;
  }

  private static List<JsonObject> allPanels(JsonObject dash) {
    List<JsonObject> out = new ArrayList<>();
    for (Object o : dash.getJsonArray("panels")) {
      JsonObject p = (JsonObject) o;
      out.add(p);
      for (Object inner : p.getJsonArray("panels", new JsonArray())) {
        out.add((JsonObject) inner);
      }
    }
    return out;
  }

  /** The selectors of the query variables' label_values(SELECTOR, label), by variable name. */
  static Map<String, String> variableSelectors(JsonObject dash) {
    Map<String, String> selectors = new LinkedHashMap<>();
    Pattern labelValues = Pattern.compile("label_values\\((.*),\\s*([a-zA-Z_][a-zA-Z0-9_]*)\\)");
    for (Object o : dash.getJsonObject("templating").getJsonArray("list")) {
      JsonObject v = (JsonObject) o;
      if ("query".equals(v.getString("type"))) {
        Object q = v.getValue("query");
        String query = q instanceof JsonObject j ? j.getString("query") : (String) q;
        Matcher m = labelValues.matcher(query);
        assertThat(m.matches()).as("variable %s is label_values(...): %s", v.getString("name"), query).isTrue();
        assertThat(m.group(2)).as("variable %s lists its own label", v.getString("name"))
            .isEqualTo(v.getString("name"));
        selectors.put(v.getString("name"), m.group(1));
      }
    }
    return selectors;
  }

  @Test
  void dashboardIsImportableAndFiltersEveryQueryByItsVariables() throws Exception {
    JsonObject dash = dashboard();
    assertThat(dash.getInteger("schemaVersion")).isGreaterThanOrEqualTo(36);
    assertThat(dash.getString("uid")).isNotBlank();
    assertThat(dash.getValue("id")).as("no instance id: Grafana assigns it on import").isNull();
    Set<String> variables = dash.getJsonObject("templating").getJsonArray("list").stream()
        .map(o -> ((JsonObject) o).getString("name")).collect(Collectors.toSet());
    assertThat(variables).contains("datasource", "node", "pool");
    assertThat(variableSelectors(dash)).containsOnlyKeys("node", "pool");

    // Panels inside a collapsed row keep their expanded positions, so only the top level must not overlap.
    List<int[]> boxes = new ArrayList<>();
    for (Object o : dash.getJsonArray("panels")) {
      JsonObject panel = (JsonObject) o;
      JsonObject g = panel.getJsonObject("gridPos");
      int x = g.getInteger("x");
      int y = g.getInteger("y");
      int w = g.getInteger("w");
      int h = g.getInteger("h");
      assertThat(x + w).as("panel %s fits the 24 columns", panel.getString("title")).isLessThanOrEqualTo(24);
      for (int[] b : boxes) {
        boolean apart = x + w <= b[0] || b[0] + b[2] <= x || y + h <= b[1] || b[1] + b[3] <= y;
        assertThat(apart).as("panel %s overlaps another", panel.getString("title")).isTrue();
      }
      boxes.add(new int[] {x, y, w, h});
    }

    Set<Integer> ids = new HashSet<>();
    for (JsonObject panel : allPanels(dash)) {
      assertThat(ids.add(panel.getInteger("id"))).as("panel ids are unique: %s", panel.getInteger("id")).isTrue();
      if ("row".equals(panel.getString("type"))) {
        continue;
      }
      assertThat(panel.getJsonObject("datasource").getString("uid")).as("panel %s", panel.getString("title"))
          .isEqualTo("${datasource}");
      JsonArray targets = panel.getJsonArray("targets", new JsonArray());
      assertThat(targets).as("panel %s has queries", panel.getString("title")).isNotEmpty();
      for (Object t : targets) {
        JsonObject target = (JsonObject) t;
        assertThat(target.getJsonObject("datasource").getString("uid")).isEqualTo("${datasource}");
        String expr = target.getString("expr");
        // A panel that ignores the node picker would show every node whatever the operator chose.
        if (METRIC.matcher(expr).find()) {
          assertThat(expr).as("panel %s filters by node", panel.getString("title")).contains("node=~\"$node\"");
        }
        if (POOL_METRIC.matcher(expr).find()) {
          assertThat(expr).as("panel %s filters by pool", panel.getString("title")).contains("pool=~\"$pool\"");
        }
      }
    }
  }

  /**
   * Grafana's variables replaced by plain values, every query becomes a recording rule, and
   * promtool parses and type-checks them all: a typo in a panel fails here, not on a wall screen.
   */
  @Test
  void everyDashboardQueryIsValidPromQL() throws Exception {
    Path promtool = PromTool.find();
    JsonObject dash = dashboard();
    Map<String, String> exprs = new LinkedHashMap<>();
    dashboardQueries().forEach((key, expr) -> exprs.put("dashboard:panel_" + key.replace('/', '_'), expr));
    variableSelectors(dash).forEach((name, selector) -> exprs.put("dashboard:variable_" + name, selector));
    assertThat(exprs).hasSizeGreaterThan(10);

    StringBuilder rules = new StringBuilder("groups:\n  - name: dashboard\n    rules:\n");
    for (Map.Entry<String, String> e : exprs.entrySet()) {
      String concrete = substitute(e.getValue());
      assertThat(concrete).as("%s has no Grafana variable left", e.getKey()).doesNotContain("$");
      rules.append("      - record: ").append(e.getKey()).append('\n')
          .append("        expr: ").append(yamlString(concrete)).append('\n');
    }
    Path dir = Files.createTempDirectory("snakepit-dashboard-rules-");
    Path file = dir.resolve("dashboard.rules.yaml");
    try {
      Files.writeString(file, rules, StandardCharsets.UTF_8);
      PromTool.Result r = PromTool.run(promtool, dir, "check", "rules", file.getFileName().toString());
      assertThat(r.exitCode()).as("promtool check rules on the dashboard's queries:\n%s\n%s", r.output(), rules)
          .isZero();
      assertThat(r.output()).contains("SUCCESS: " + exprs.size() + " rules found");
    } finally {
      Files.deleteIfExists(file);
      Files.deleteIfExists(dir);
    }
  }

  /** A JSON string is a valid YAML double-quoted scalar: the query goes in with its quotes escaped, unchanged. */
  private static String yamlString(String s) {
    String array = new JsonArray().add(s).encode();
    return array.substring(1, array.length() - 1);
  }

  /** Grafana's variables as a panel would see them; an unknown one fails rather than passing through. */
  static String substitute(String expr) {
    Map<String, String> values = Map.of("node", "node-1", "pool", ".*", "__rate_interval", "1m",
        "__interval", "15s", "__range", "1h");
    Matcher m = GRAFANA_VARIABLE.matcher(expr);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String name = m.group(1) != null ? m.group(1) : m.group(2);
      String value = values.get(name);
      assertThat(value).as("a value for Grafana variable $%s in %s", name, expr).isNotNull();
      m.appendReplacement(out, Matcher.quoteReplacement(value));
    }
    m.appendTail(out);
    return out.toString();
  }

  @Test
  void substituteReplacesEverySpellingOfAVariable() {
    assertThat(substitute("rate(x{node=~\"$node\", pool=~\"${pool}\"}[$__rate_interval]) + y[${__interval}]"))
        .isEqualTo("rate(x{node=~\"node-1\", pool=~\".*\"}[1m]) + y[15s]");
    assertThat(substitute("x{node=~\"${node:regex}\"}")).isEqualTo("x{node=~\"node-1\"}");
  }

  // ---- every metric they name exists ---------------------------------------------------------

  /**
   * Names are compared with the exposition's sample names, not its metric families: a query for
   * X_bucket needs a histogram, and a summary such as vertx_http_server_response_time_seconds has
   * only _count, _sum and _max.
   */
  @Test
  void everyMetricInTheAlertsAndTheDashboardIsExportedByARealNode() throws Exception {
    Map<String, Set<String>> referenced = new LinkedHashMap<>();
    for (Map<String, Object> rule : alertRules()) {
      metricNames((String) rule.get("expr"), "alert " + rule.get("alert"), referenced);
    }
    dashboardQueries().forEach((key, expr) -> metricNames(expr, "panel " + key, referenced));
    variableSelectors(dashboard()).forEach((name, selector) -> metricNames(selector, "variable " + name, referenced));
    assertThat(referenced).containsKeys("snakepit_call_duration_seconds_bucket", "snakepit_call_duration_seconds_count",
        "snakepit_workers", "snakepit_session_operation_duration_seconds_bucket", "vertx_http_server_requests_total");

    try (TestNode n = TestNode.start("monitoring-assets-test",
        new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))))) {
      // Histograms and labelled counters have no sample until something is recorded: one call of each
      // outcome kind and a few session operations.
      assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"echo\",\"args\":{}}").statusCode()).isEqualTo(200);
      assertThat(n.send("POST", "/v1/execute", "{\"tool\":\"fail\",\"args\":{\"message\":\"m\"}}").statusCode())
          .isEqualTo(500);
      String id = "monitoring-" + UUID.randomUUID();
      assertThat(n.send("POST", "/v1/sessions", "{\"id\":\"" + id + "\"}").statusCode()).isEqualTo(201);
      assertThat(n.send("PUT", "/v1/sessions/" + id + "/variables/v", "{\"value\":1}").statusCode()).isEqualTo(200);

      // Gauges are refreshed on the node's own schedule (sessions every second): poll until all are there.
      AtomicReference<Set<String>> exported = new AtomicReference<>(Set.of());
      Set<String> wanted = new TreeSet<>(referenced.keySet());
      wanted.removeAll(SYNTHETIC);
      try {
        TestNode.until("every referenced metric in /metrics", Duration.ofSeconds(30), () -> {
          exported.set(sampleNames(n.get("/metrics").body()));
          return exported.get().containsAll(wanted);
        });
      } catch (AssertionError e) {
        StringBuilder why = new StringBuilder("metrics named in docker/ that the node does not export:");
        for (String name : wanted) {
          if (!exported.get().contains(name)) {
            // Show what the family does have: X_bucket missing next to X_count means a summary, not a histogram.
            String family = name.replaceAll("_(bucket|count|sum|max|total)$", "");
            why.append("\n  ").append(name).append(" (used by ").append(referenced.get(name))
                .append("); the node has ")
                .append(exported.get().stream().filter(x -> x.startsWith(family)).toList());
          }
        }
        throw new AssertionError(why.toString(), e);
      }
    }
  }

  private static void metricNames(String expr, String user, Map<String, Set<String>> into) {
    Matcher m = METRIC.matcher(expr);
    while (m.find()) {
      into.computeIfAbsent(m.group(), k -> new TreeSet<>()).add(user);
    }
  }

  static Set<String> sampleNames(String exposition) {
    return exposition.lines().filter(l -> !l.isBlank() && !l.startsWith("#"))
        .map(l -> l.split("[{ ]", 2)[0]).collect(Collectors.toCollection(TreeSet::new));
  }
}
