package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * docker/kubernetes/snakepit.yaml against the node it deploys. No Kubernetes
 * runs here, so this checks what would otherwise fail only in a cluster: the
 * StatefulSet's environment is a valid node configuration that joins through
 * the headless service's DNS name; the probes are the node's health routes;
 * the ports are the ones the node listens on; the uid is the image's.
 * (DnsDiscoveryTest in tests/ runs real nodes that join through such a name.)
 */
class KubernetesManifestTest {

  static final Path MANIFEST = Path.of("..", "docker", "kubernetes", "snakepit.yaml");
  static final Path DOCKERFILE = Path.of("..", "docker", "Dockerfile");

  static final Map<String, JsonObject> RESOURCES = new HashMap<>();

  @TempDir
  static Path dataDir;

  @BeforeAll
  @SuppressWarnings("unchecked")
  static void load() throws Exception {
    Yaml yaml = new Yaml(new SafeConstructor(new LoaderOptions()));
    for (Object doc : yaml.loadAll(Files.readString(MANIFEST))) {
      JsonObject r = new JsonObject((Map<String, Object>) doc);
      RESOURCES.put(r.getString("kind") + "/" + r.getJsonObject("metadata").getString("name"), r);
    }
  }

  static JsonObject resource(String kindAndName) {
    assertThat(RESOURCES).as("resources in " + MANIFEST).containsKey(kindAndName);
    return RESOURCES.get(kindAndName);
  }

  static JsonObject podSpec() {
    return resource("StatefulSet/snakepit").getJsonObject("spec").getJsonObject("template").getJsonObject("spec");
  }

  static JsonObject container() {
    return podSpec().getJsonArray("containers").getJsonObject(0);
  }

  /** The container's environment as the pod would see it, with the downward API's fields filled in. */
  static Map<String, String> environment() {
    Map<String, String> downward = Map.of("status.podIP", "10.244.1.7", "metadata.name", "snakepit-1");
    Map<String, String> env = new HashMap<>();
    for (Object o : container().getJsonArray("env")) {
      JsonObject e = (JsonObject) o;
      String value = e.containsKey("value") ? e.getString("value")
          : downward.get(e.getJsonObject("valueFrom").getJsonObject("fieldRef").getString("fieldPath"));
      assertThat(value).as("value of " + e.getString("name")).isNotNull();
      env.put(e.getString("name"), value);
    }
    return env;
  }

  static NodeConfig nodeConfig() throws Exception {
    RunCommand run = new RunCommand();
    run.environment = environment();
    // The image's CMD: run --config /opt/snakepit/config/snakepit.yaml, which is this repository's config/.
    new picocli.CommandLine(run).parseArgs("--config", Path.of("..", "config", "snakepit.yaml").toString(),
        "--data-dir", dataDir.toString());
    return run.resolve();
  }

  static int containerPort(String name) {
    for (Object o : container().getJsonArray("ports")) {
      JsonObject p = (JsonObject) o;
      if (name.equals(p.getString("name"))) {
        return p.getInteger("containerPort");
      }
    }
    throw new AssertionError("no container port named " + name);
  }

  @Test
  void theEnvironmentIsAValidClusteredNodeThatJoinsThroughTheHeadlessService() throws Exception {
    NodeConfig cfg = nodeConfig();
    assertThat(cfg.cluster().enabled()).isTrue();
    assertThat(cfg.cluster().members()).isEmpty();
    assertThat(cfg.nodeId()).isEqualTo("snakepit-1");
    assertThat(cfg.cluster().host()).isEqualTo("10.244.1.7");
    assertThat(cfg.host()).isEqualTo("0.0.0.0");

    JsonObject headless = resource("Service/snakepit-headless");
    String namespace = headless.getJsonObject("metadata").getString("namespace");
    assertThat(cfg.cluster().dns()).isEqualTo("snakepit-headless." + namespace + ".svc.cluster.local");
    assertThat(resource("StatefulSet/snakepit").getJsonObject("spec").getString("serviceName"))
        .isEqualTo("snakepit-headless");
    JsonObject spec = headless.getJsonObject("spec");
    assertThat(spec.getString("clusterIP")).isEqualTo("None");
    // A node is ready only once it has joined, so discovery must see pods that are not ready yet.
    assertThat(spec.getBoolean("publishNotReadyAddresses")).isTrue();
    assertThat(spec.getJsonArray("ports").getJsonObject(0).getInteger("port")).isEqualTo(cfg.cluster().port());
    assertThat(ClusterConfig.hazelcast(cfg).getAdvancedNetworkConfig().getJoin().getKubernetesConfig().isEnabled()).isTrue();
  }

  @Test
  void portsAndProbesAreTheOnesTheNodeServes() throws Exception {
    NodeConfig cfg = nodeConfig();
    assertThat(containerPort("http")).isEqualTo(cfg.httpPort());
    assertThat(containerPort("grpc")).isEqualTo(cfg.grpcPort());
    assertThat(containerPort("hazelcast")).isEqualTo(cfg.cluster().port());
    assertThat(containerPort("bus")).isEqualTo(cfg.cluster().busPort());

    JsonObject openapi = new JsonObject(new String(
        KubernetesManifestTest.class.getResourceAsStream("/openapi.json").readAllBytes()));
    JsonObject c = container();
    for (String probe : List.of("readinessProbe", "livenessProbe", "startupProbe")) {
      JsonObject get = c.getJsonObject(probe).getJsonObject("httpGet");
      assertThat(get.getString("port")).as(probe + " port").isEqualTo("http");
      assertThat(openapi.getJsonObject("paths").containsKey(get.getString("path")))
          .as(probe + " path " + get.getString("path") + " is a route of the node").isTrue();
    }
    assertThat(c.getJsonObject("readinessProbe").getJsonObject("httpGet").getString("path")).isEqualTo("/ready");
    assertThat(c.getJsonObject("livenessProbe").getJsonObject("httpGet").getString("path")).isEqualTo("/health");

    JsonArray clientPorts = resource("Service/snakepit").getJsonObject("spec").getJsonArray("ports");
    List<Object> targets = new ArrayList<>();
    clientPorts.forEach(p -> targets.add(((JsonObject) p).getValue("targetPort")));
    assertThat(targets).containsExactlyInAnyOrder("http", "grpc");
  }

  @Test
  void thePodRunsAsTheImagesNonRootUserAndHasTimeToDrain() throws Exception {
    Matcher user = Pattern.compile("(?m)^USER (\\d+)$").matcher(Files.readString(DOCKERFILE));
    assertThat(user.find()).as("a numeric USER in the Dockerfile, which runAsNonRoot can check").isTrue();
    JsonObject security = podSpec().getJsonObject("securityContext");
    assertThat(security.getBoolean("runAsNonRoot")).isTrue();
    assertThat(security.getInteger("runAsUser")).isEqualTo(Integer.parseInt(user.group(1)));
    // A SIGTERM drains the node, which may take up to 60 s (docs/operations.md); Kubernetes waits 30 s by default.
    assertThat(podSpec().getInteger("terminationGracePeriodSeconds")).isGreaterThanOrEqualTo(60);
    JsonObject budget = resource("PodDisruptionBudget/snakepit").getJsonObject("spec");
    assertThat(budget.getInteger("maxUnavailable")).isEqualTo(1);
  }

  /**
   * The upgrade docker/test-cluster.sh proves under load (issue 14): one pod at a time, each drained on SIGTERM
   * after a pause that lets its endpoint leave the Services, within a grace period that holds pause and drain.
   */
  @Test
  void anUpgradeReplacesOnePodAtATimeAndEachHasTimeToLeaveTheServicesAndDrain() {
    JsonObject spec = resource("StatefulSet/snakepit").getJsonObject("spec");
    assertThat(spec.getJsonObject("updateStrategy").getString("type")).isEqualTo("RollingUpdate");
    assertThat(spec.getInteger("minReadySeconds", 0)).as("minReadySeconds: the ring takes in a new pod")
        .isPositive();
    JsonArray preStop = container().getJsonObject("lifecycle").getJsonObject("preStop").getJsonObject("exec")
        .getJsonArray("command");
    assertThat(preStop.getString(0)).isEqualTo("sleep");
    int pause = Integer.parseInt(preStop.getString(1));
    assertThat(pause).as("the preStop pause, s").isBetween(1, 30);
    // The drain's own bound is 60 s (docs/cluster.md, "Draining a node").
    assertThat(podSpec().getInteger("terminationGracePeriodSeconds")).isGreaterThanOrEqualTo(pause + 60);
  }
}
