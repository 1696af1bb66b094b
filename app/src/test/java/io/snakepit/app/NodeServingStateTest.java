package io.snakepit.app;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.Addresses;
import io.vertx.core.json.JsonObject;
import java.net.http.HttpResponse;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.Test;

/** A real node's {@link ServingState}: serving once started, stopping only once its drain is over. */
class NodeServingStateTest {

  @Test
  void aStartedNodeServesAndIsReadyAndStopsServingOnlyAfterItsDrain() throws Exception {
    TestNode n = TestNode.start("serving-state",
        new JsonObject().put("pools", new JsonObject().put("default", new JsonObject().put("size", 1))));
    try {
      assertThat(n.node.servingState().phase()).isEqualTo(ServingState.Phase.SERVING);
      HttpResponse<String> ready = n.get("/ready");
      JsonObject serving = new JsonObject(ready.body()).getJsonObject("checks").getJsonObject("serving");
      assertThat(serving.getBoolean("ok")).isTrue();
      assertThat(serving.getString("phase")).isEqualTo("serving");
      HttpResponse<String> r = n.send("POST", "/v1/execute", "{\"tool\":\"noop\"}");
      assertThat(r.statusCode()).as(r.body()).isEqualTo(200);

      // The drain runs while the node still serves: calls go on during it (the router sends them elsewhere).
      AtomicReference<ServingState.Phase> duringDrain = new AtomicReference<>();
      n.node.vertx().eventBus().addOutboundInterceptor(ctx -> {
        if (Addresses.DRAIN.equals(ctx.message().address())) {
          duringDrain.set(n.node.servingState().phase());
        }
        ctx.next();
      });
      n.node.close();
      assertThat(duringDrain.get()).isEqualTo(ServingState.Phase.SERVING);
      assertThat(n.node.servingState().phase()).isEqualTo(ServingState.Phase.STOPPING);
    } finally {
      n.close();
    }
  }
}
