package io.snakepit.app.tracing;

import io.snakepit.config.ConfigException;
import io.snakepit.config.ConfigReader;
import io.vertx.core.json.JsonObject;
import java.net.URI;

/**
 * The {@code tracing} section of the node's configuration (docs/tracing.md, docs/configuration.md).
 * Tracing is off unless {@code endpoint} is set; then the node exports its spans there with OTLP over
 * HTTP (protobuf).
 *
 * @param endpoint        the OTLP/HTTP base URL of a collector ({@code http://collector:4318}); spans go to
 *                        {@code <endpoint>/v1/traces}. Null: tracing is off
 * @param protocol        the OTLP protocol; only {@value #HTTP_PROTOBUF}
 * @param samplingRate    the share of new traces recorded, 0 to 1; a request that arrives in a trace follows
 *                        its caller's decision (a parent-based ratio sampler)
 * @param serviceName     the {@code service.name} of the node's spans
 * @param exportTimeoutMs how long one export may take before the batch is dropped
 */
public record TracingSettings(String endpoint, String protocol, double samplingRate, String serviceName,
                              long exportTimeoutMs) {

  /** The one OTLP protocol the node speaks. */
  public static final String HTTP_PROTOBUF = "http/protobuf";

  /** Tracing off: the default. */
  public static final TracingSettings OFF = new TracingSettings(null, HTTP_PROTOBUF, 1.0, "snakepit", 10_000);

  /** Whether the node traces. */
  public boolean enabled() {
    return endpoint != null;
  }

  /** Where spans are sent: {@code <endpoint>/v1/traces}. */
  public String tracesUrl() {
    return endpoint.endsWith("/") ? endpoint + "v1/traces" : endpoint + "/v1/traces";
  }

  /** Reads and validates the section; {@code json} may be empty (tracing off). Unknown keys are refused. */
  public static TracingSettings fromJson(JsonObject json) {
    ConfigReader r = new ConfigReader(json, "tracing");
    String endpoint = r.string("endpoint", null);
    String protocol = r.string("protocol", HTTP_PROTOBUF);
    double rate = r.doubleValue("sampling-rate", 1.0, 0.0, 1.0);
    String service = r.string("service-name", "snakepit");
    long timeout = r.longValue("export-timeout-ms", 10_000, 100, 600_000);
    r.rejectUnknownKeys();
    if (!HTTP_PROTOBUF.equals(protocol)) {
      throw new ConfigException(r.key("protocol") + " must be " + HTTP_PROTOBUF + " (OTLP over HTTP with protobuf), got \""
          + protocol + "\"" + (protocol.startsWith("grpc") ? "; point tracing.endpoint at the collector's OTLP/HTTP port"
          + " (4318 by default) instead of its gRPC port" : ""));
    }
    if (service.isBlank()) {
      throw new ConfigException(r.key("service-name") + " must not be empty");
    }
    if (endpoint != null) {
      endpoint = endpoint.trim();
      if (endpoint.isEmpty()) {
        endpoint = null; // an empty variable (SNAKEPIT_TRACING__ENDPOINT=) leaves tracing off
      } else {
        checkUrl(r.key("endpoint"), endpoint);
      }
    }
    return new TracingSettings(endpoint, protocol, rate, service, timeout);
  }

  private static void checkUrl(String key, String endpoint) {
    URI uri;
    try {
      uri = new URI(endpoint);
    } catch (java.net.URISyntaxException e) {
      throw new ConfigException(key + " must be an http or https URL such as http://collector:4318, got \""
          + endpoint + "\": " + e.getReason());
    }
    if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme())) || uri.getHost() == null
        || uri.getQuery() != null) {
      throw new ConfigException(key + " must be an http or https URL such as http://collector:4318, got \""
          + endpoint + "\"");
    }
  }

  /** The section as JSON (what {@code fromJson} reads back). */
  public JsonObject toJson() {
    JsonObject j = new JsonObject().put("protocol", protocol).put("sampling-rate", samplingRate)
        .put("service-name", serviceName).put("export-timeout-ms", exportTimeoutMs);
    return endpoint == null ? j : j.put("endpoint", endpoint);
  }
}
