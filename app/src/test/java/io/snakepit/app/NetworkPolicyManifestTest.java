package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.HashSet;
import java.util.Map;
import java.util.Set;
import org.junit.jupiter.api.Test;
import org.yaml.snakeyaml.LoaderOptions;
import org.yaml.snakeyaml.Yaml;
import org.yaml.snakeyaml.constructor.SafeConstructor;

/**
 * docker/kubernetes/network-policy.yaml against the StatefulSet of snakepit.yaml: it selects the StatefulSet's
 * pods, lets only pods with the StatefulSet's labels reach the cluster ports (Hazelcast, event bus), and keeps
 * every other container port (the APIs, the probes) open. No Kubernetes here: the policy's rules are read as an
 * enforcing CNI would apply them.
 */
class NetworkPolicyManifestTest {

  static final Path POLICY = Path.of("..", "docker", "kubernetes", "network-policy.yaml");

  @SuppressWarnings("unchecked")
  static JsonObject load(Path file, String kind) throws Exception {
    for (Object doc : new Yaml(new SafeConstructor(new LoaderOptions())).loadAll(Files.readString(file))) {
      JsonObject r = new JsonObject((Map<String, Object>) doc);
      if (kind.equals(r.getString("kind"))) {
        return r;
      }
    }
    throw new AssertionError("no " + kind + " in " + file);
  }

  @Test
  void onlyTheStatefulSetsPodsReachTheClusterPorts() throws Exception {
    JsonObject sts = load(KubernetesManifestTest.MANIFEST, "StatefulSet");
    JsonObject policy = load(POLICY, "NetworkPolicy");
    assertThat(policy.getJsonObject("metadata").getString("namespace"))
        .isEqualTo(sts.getJsonObject("metadata").getString("namespace", "snakepit"));
    JsonObject podLabels = sts.getJsonObject("spec").getJsonObject("template").getJsonObject("metadata")
        .getJsonObject("labels");
    JsonObject selected = policy.getJsonObject("spec").getJsonObject("podSelector").getJsonObject("matchLabels");
    assertThat(podLabels.getMap()).containsAllEntriesOf(selected.getMap());
    assertThat(policy.getJsonObject("spec").getJsonArray("policyTypes")).contains("Ingress");

    Map<String, Integer> ports = new HashMap<>();
    for (Object o : sts.getJsonObject("spec").getJsonObject("template").getJsonObject("spec")
        .getJsonArray("containers").getJsonObject(0).getJsonArray("ports")) {
      JsonObject p = (JsonObject) o;
      ports.put(p.getString("name"), p.getInteger("containerPort"));
    }
    Set<Integer> cluster = Set.of(ports.get("hazelcast"), ports.get("bus"));
    Set<Integer> open = new HashSet<>();
    Set<Integer> ownPodsOnly = new HashSet<>();
    for (Object o : policy.getJsonObject("spec").getJsonArray("ingress")) {
      JsonObject rule = (JsonObject) o;
      JsonArray from = rule.getJsonArray("from");
      Set<Integer> rulePorts = new HashSet<>();
      rule.getJsonArray("ports").forEach(p -> rulePorts.add(((JsonObject) p).getInteger("port")));
      if (from == null || from.isEmpty()) {
        open.addAll(rulePorts);
      } else {
        for (Object f : from) {
          JsonObject peer = (JsonObject) f;
          // only a pod selector of the StatefulSet's own labels, in the policy's namespace
          assertThat(peer.fieldNames()).containsExactly("podSelector");
          assertThat(podLabels.getMap())
              .containsAllEntriesOf(peer.getJsonObject("podSelector").getJsonObject("matchLabels").getMap());
        }
        ownPodsOnly.addAll(rulePorts);
      }
    }
    assertThat(open).as("ports open to any peer").doesNotContainAnyElementsOf(cluster);
    assertThat(ownPodsOnly).containsAll(cluster);
    Set<Integer> others = new HashSet<>(ports.values());
    others.removeAll(cluster);
    assertThat(open).as("the APIs and the probes' port stay reachable").containsAll(others);
  }
}
