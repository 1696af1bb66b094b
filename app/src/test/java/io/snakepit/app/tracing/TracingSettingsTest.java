package io.snakepit.app.tracing;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import io.snakepit.app.NodeConfig;
import io.snakepit.config.ConfigException;
import io.vertx.core.json.JsonObject;
import org.junit.jupiter.api.Test;

/** The {@code tracing} section: off by default, and every mistake a typed error naming its key. */
class TracingSettingsTest {

  private static NodeConfig config(JsonObject tracing) {
    return NodeConfig.fromJson(new JsonObject().put("tracing", tracing), "n1");
  }

  private static void refused(JsonObject tracing, String key, String why) {
    assertThatThrownBy(() -> config(tracing)).as(tracing.encode()).isInstanceOf(ConfigException.class)
        .hasMessageContaining(key).hasMessageContaining(why);
  }

  @Test
  void offWithoutAnEndpoint() {
    TracingSettings off = NodeConfig.fromJson(new JsonObject(), "n1").tracing();
    assertThat(off.enabled()).isFalse();
    assertThat(config(new JsonObject().put("sampling-rate", 0.5)).tracing().enabled()).isFalse();
    // An empty value (SNAKEPIT_TRACING__ENDPOINT=) leaves it off rather than failing.
    assertThat(config(new JsonObject().put("endpoint", "")).tracing().enabled()).isFalse();
  }

  @Test
  void onWithAnEndpoint() {
    TracingSettings t = config(new JsonObject().put("endpoint", "http://collector:4318/")
        .put("sampling-rate", 0.25).put("service-name", "snakepit-eu")).tracing();
    assertThat(t.enabled()).isTrue();
    assertThat(t.tracesUrl()).isEqualTo("http://collector:4318/v1/traces");
    assertThat(t.samplingRate()).isEqualTo(0.25);
    assertThat(t.serviceName()).isEqualTo("snakepit-eu");
    assertThat(t.protocol()).isEqualTo(TracingSettings.HTTP_PROTOBUF);
    assertThat(TracingSettings.fromJson(t.toJson())).isEqualTo(t);
  }

  @Test
  void aSamplingRateOutsideZeroToOneIsRefused() {
    refused(new JsonObject().put("sampling-rate", 1.5), "tracing.sampling-rate", "between 0.0 and 1.0");
    refused(new JsonObject().put("sampling-rate", -0.1), "tracing.sampling-rate", "between 0.0 and 1.0");
    refused(new JsonObject().put("sampling-rate", "half"), "tracing.sampling-rate", "must be a number");
  }

  @Test
  void onlyOtlpOverHttpWithProtobuf() {
    refused(new JsonObject().put("endpoint", "http://c:4317").put("protocol", "grpc"), "tracing.protocol",
        "4318");
    refused(new JsonObject().put("protocol", "http/json"), "tracing.protocol", "must be http/protobuf");
  }

  @Test
  void badEndpointsAndUnknownKeysAreRefused() {
    refused(new JsonObject().put("endpoint", "collector:4318"), "tracing.endpoint", "http or https URL");
    refused(new JsonObject().put("endpoint", "ftp://collector"), "tracing.endpoint", "http or https URL");
    refused(new JsonObject().put("endpoint", "http://col lector"), "tracing.endpoint", "http or https URL");
    refused(new JsonObject().put("sample-rate", 0.1), "tracing.sample-rate", "unknown");
    refused(new JsonObject().put("service-name", " "), "tracing.service-name", "empty");
    assertThatThrownBy(() -> NodeConfig.fromJson(new JsonObject().put("tracing", "on"), "n1"))
        .isInstanceOf(ConfigException.class).hasMessageContaining("tracing must be an object");
  }
}
