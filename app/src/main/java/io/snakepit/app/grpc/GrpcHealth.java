package io.snakepit.app.grpc;

import io.snakepit.app.ServingState;
import io.snakepit.contract.Addresses;
import io.snakepit.grpc.v1.SnakepitGrpcService;
import io.vertx.core.Future;
import io.vertx.core.Vertx;
import io.vertx.core.eventbus.DeliveryOptions;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.grpc.common.GrpcMessageDecoder;
import io.vertx.grpc.common.GrpcMessageEncoder;
import io.vertx.grpc.common.GrpcStatus;
import io.vertx.grpc.common.ServiceMethod;
import io.vertx.grpc.common.ServiceName;
import io.vertx.grpc.health.v1.HealthCheckRequest;
import io.vertx.grpc.health.v1.HealthCheckResponse;
import io.vertx.grpc.health.v1.HealthCheckResponse.ServingStatus;
import io.vertx.grpc.health.v1.HealthListRequest;
import io.vertx.grpc.health.v1.HealthListResponse;
import io.vertx.grpc.health.v1.HealthProto;
import io.vertx.grpc.server.GrpcServerRequest;
import io.vertx.grpc.server.Service;

/**
 * The standard gRPC health service ({@code grpc.health.v1.Health}): SERVING
 * while the node serves calls ({@link ServingState}) and has a ready worker,
 * NOT_SERVING otherwise: while it starts, and once it stops.
 * The overall status (service {@code ""}, what Kubernetes' gRPC probes and
 * grpc_health_probe ask by default) and {@code snakepit.v1.Snakepit} both mean
 * that. Vert.x's own HealthService answers SERVING for {@code ""} whatever its
 * checks say, so the node serves these methods itself, with the messages and
 * descriptor of vertx-grpc-health.
 */
final class GrpcHealth {

  static final ServiceName NAME = ServiceName.create("grpc.health.v1.Health");
  private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> CHECK = ServiceMethod.server(NAME,
      "Check", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
  private static final ServiceMethod<HealthCheckRequest, HealthCheckResponse> WATCH = ServiceMethod.server(NAME,
      "Watch", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthCheckRequest.newBuilder()));
  private static final ServiceMethod<HealthListRequest, HealthListResponse> LIST = ServiceMethod.server(NAME,
      "List", GrpcMessageEncoder.encoder(), GrpcMessageDecoder.decoder(HealthListRequest.newBuilder()));
  /** How often a Watch looks again. */
  private static final long WATCH_INTERVAL_MS = 1000;

  private final Vertx vertx;
  private final ServingState servingState;
  private volatile boolean stopping;

  GrpcHealth(Vertx vertx, ServingState servingState) {
    this.vertx = vertx;
    this.servingState = servingState;
  }

  Service service() {
    return Service.service(NAME, HealthProto.getDescriptor().findServiceByName("Health"))
        .bind(CHECK, this::check)
        .bind(WATCH, this::watch)
        .bind(LIST, this::list)
        .build();
  }

  /** From now on, NOT_SERVING. */
  void stopping() {
    stopping = true;
  }

  private static boolean known(String service) {
    return service.isEmpty() || service.equals(SnakepitGrpcService.SERVICE_NAME.fullyQualifiedName())
        || service.equals(NAME.fullyQualifiedName());
  }

  /** Whether the node can serve calls: it is serving, and some pool has a ready worker (asked over the event bus). */
  Future<ServingStatus> status() {
    if (stopping || !servingState.isServing()) {
      return Future.succeededFuture(ServingStatus.NOT_SERVING);
    }
    return vertx.eventBus().<JsonObject>request(Addresses.POOLS, new JsonObject(),
            new DeliveryOptions().setSendTimeout(5000))
        .map(m -> {
          JsonArray pools = m.body().getJsonArray("pools", new JsonArray());
          for (int i = 0; i < pools.size(); i++) {
            if (pools.getJsonObject(i).getInteger("ready", 0) > 0) {
              return stopping || !servingState.isServing() ? ServingStatus.NOT_SERVING : ServingStatus.SERVING;
            }
          }
          return ServingStatus.NOT_SERVING;
        })
        .otherwise(ServingStatus.NOT_SERVING);
  }

  private static HealthCheckResponse response(ServingStatus s) {
    return HealthCheckResponse.newBuilder().setStatus(s).build();
  }

  private void check(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> call) {
    call.handler(req -> {
      if (!known(req.getService())) {
        call.response().status(GrpcStatus.NOT_FOUND).statusMessage("unknown service " + req.getService()).end();
        return;
      }
      status().onComplete(ar -> call.response().end(response(ar.result())));
    });
  }

  private void list(GrpcServerRequest<HealthListRequest, HealthListResponse> call) {
    call.handler(req -> status().onComplete(ar -> call.response().end(HealthListResponse.newBuilder()
        .putStatuses("", response(ar.result()))
        .putStatuses(SnakepitGrpcService.SERVICE_NAME.fullyQualifiedName(), response(ar.result()))
        .build())));
  }

  /** Sends the status now and again whenever it changes, until the client cancels. */
  private void watch(GrpcServerRequest<HealthCheckRequest, HealthCheckResponse> call) {
    call.handler(req -> {
      ServingStatus[] last = {null};
      long[] timer = {-1};
      boolean[] done = {false};
      Runnable stop = () -> {
        done[0] = true;
        vertx.cancelTimer(timer[0]);
      };
      call.exceptionHandler(t -> stop.run());
      call.response().exceptionHandler(t -> stop.run());
      if (!known(req.getService())) {
        call.response().write(response(ServingStatus.SERVICE_UNKNOWN));
        return;
      }
      Runnable look = () -> status().onSuccess(s -> {
        if (!done[0] && s != last[0]) {
          last[0] = s;
          try {
            call.response().write(response(s));
          } catch (IllegalStateException gone) {
            stop.run();
          }
        }
      });
      look.run();
      timer[0] = vertx.setPeriodic(WATCH_INTERVAL_MS, id -> look.run());
    });
  }
}
