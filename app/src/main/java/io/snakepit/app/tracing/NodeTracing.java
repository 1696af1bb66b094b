package io.snakepit.app.tracing;

import io.opentelemetry.api.OpenTelemetry;
import io.opentelemetry.api.common.AttributeKey;
import io.opentelemetry.api.common.Attributes;
import io.opentelemetry.api.trace.Tracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.exporter.otlp.http.trace.OtlpHttpSpanExporter;
import io.opentelemetry.sdk.OpenTelemetrySdk;
import io.opentelemetry.sdk.resources.Resource;
import io.opentelemetry.sdk.trace.IdGenerator;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import io.opentelemetry.sdk.trace.export.BatchSpanProcessor;
import io.opentelemetry.sdk.trace.samplers.Sampler;
import io.snakepit.contract.CorrelatedLog;
import io.snakepit.contract.SpanAttributes;
import io.snakepit.tracing.ReportedSpanIds;
import io.vertx.core.VertxBuilder;
import io.vertx.core.VertxOptions;
import io.vertx.tracing.opentelemetry.OpenTelemetryOptions;
import io.vertx.tracing.opentelemetry.OpenTelemetryTracingFactory;
import java.time.Duration;
import java.util.concurrent.TimeUnit;

/**
 * A node's OpenTelemetry SDK, when {@code tracing.endpoint} is set (docs/tracing.md): W3C trace context
 * propagation, a parent-based ratio sampler, a batch processor and the OTLP/HTTP exporter (the JDK's HTTP
 * client). Its own, not the global one, so that several nodes in one JVM (the tests) keep apart.
 *
 * <p>Vert.x's tracer, installed through {@link #installIn}, then makes spans for the HTTP and gRPC servers
 * and for event-bus sends and deliveries, and carries {@code traceparent} in event-bus headers, across the
 * cluster too. The supervisor adds the spans of workers and of the Python tools (see
 * {@link #tracer()}). When tracing is off no instance exists and nothing is installed: Vert.x runs
 * without a tracer, as before.
 */
public final class NodeTracing {

  private final OpenTelemetrySdk sdk;

  private NodeTracing(OpenTelemetrySdk sdk) {
    this.sdk = sdk;
  }

  /** Builds the SDK of a node that traces; {@code settings} must be enabled. */
  public static NodeTracing start(TracingSettings settings, String nodeId) {
    OtlpHttpSpanExporter exporter = OtlpHttpSpanExporter.builder().setEndpoint(settings.tracesUrl())
        .setTimeout(Duration.ofMillis(settings.exportTimeoutMs())).build();
    Resource resource = Resource.getDefault().merge(Resource.create(Attributes.of(
        AttributeKey.stringKey("service.name"), settings.serviceName(),
        AttributeKey.stringKey("service.instance.id"), nodeId,
        AttributeKey.stringKey(SpanAttributes.NODE), nodeId)));
    SdkTracerProvider provider = SdkTracerProvider.builder().setResource(resource)
        .setSampler(Sampler.parentBased(Sampler.traceIdRatioBased(settings.samplingRate())))
        .setIdGenerator(new ReportedIdsFirst(IdGenerator.random()))
        .addSpanProcessor(BatchSpanProcessor.builder(exporter).setScheduleDelay(Duration.ofMillis(500)).build())
        .build();
    OpenTelemetrySdk sdk = OpenTelemetrySdk.builder().setTracerProvider(provider)
        .setPropagators(ContextPropagators.create(W3CTraceContextPropagator.getInstance())).build();
    CorrelatedLog.includeTraceIds();
    return new NodeTracing(sdk);
  }

  /** The OpenTelemetry instance (for tests and embedders that want to add spans of their own). */
  public OpenTelemetry openTelemetry() {
    return sdk;
  }

  /** The tracer of the node's own spans (the supervisor's). */
  public Tracer tracer() {
    return sdk.getTracer("io.snakepit");
  }

  /** Makes the Vert.x being built trace with this SDK. */
  public VertxBuilder installIn(VertxBuilder builder, VertxOptions options) {
    options.setTracingOptions(new OpenTelemetryOptions());
    return builder.with(options).withTracer(new OpenTelemetryTracingFactory(sdk));
  }

  /** Exports what is still buffered and stops; blocks up to {@code timeoutMs}. Call after Vert.x closed. */
  public void close(long timeoutMs) {
    sdk.getSdkTracerProvider().shutdown().join(timeoutMs, TimeUnit.MILLISECONDS);
  }

  /**
   * Random ids, except for the spans a Python worker reported: those keep the ids the worker gave them
   * ({@link ReportedSpanIds}), which it already named as the parents of the node's spans for its calls.
   */
  private record ReportedIdsFirst(IdGenerator random) implements IdGenerator {

    @Override
    public String generateSpanId() {
      String requested = ReportedSpanIds.take();
      return requested != null ? requested : random.generateSpanId();
    }

    @Override
    public String generateTraceId() {
      return random.generateTraceId();
    }
  }
}
