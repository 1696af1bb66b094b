package io.snakepit.app.http;

import static org.assertj.core.api.Assertions.assertThat;

import io.snakepit.contract.SnakepitException;
import io.vertx.core.Vertx;
import io.vertx.core.buffer.Buffer;
import io.vertx.core.json.JsonArray;
import io.vertx.core.json.JsonObject;
import io.vertx.openapi.contract.OpenAPIContract;
import io.vertx.openapi.validation.RequestParameter;
import io.vertx.openapi.validation.RequestValidator;
import io.vertx.openapi.validation.impl.RequestParameterImpl;
import io.vertx.openapi.validation.impl.ValidatableRequestImpl;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Map;
import java.util.Random;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * The execute operations skip the OpenAPI validator for {@link ExecuteRequestReader}; this holds the
 * two to the same verdict. Random bodies, content types and path ids (valid ones, and each field
 * broken in the ways a client breaks it) go to Vert.x's own validator, loaded with the node's
 * {@code /openapi.json}, and to the reader: each must accept what the other accepts. The seed is
 * fixed so that a failure repeats; the run prints it.
 */
class ExecuteRequestReaderEquivalenceTest {

  private static final int BODIES = 20_000;
  private static Vertx vertx;
  private static RequestValidator validator;

  @BeforeAll
  static void loadTheContract() throws Exception {
    vertx = Vertx.vertx();
    JsonObject contract;
    try (var in = HttpApiVerticle.class.getResourceAsStream("/openapi.json")) {
      contract = new JsonObject(new String(in.readAllBytes(), StandardCharsets.UTF_8));
    }
    OpenAPIContract c = OpenAPIContract.from(vertx, HttpApiVerticle.forValidation(contract)).toCompletionStage()
        .toCompletableFuture().get(30, TimeUnit.SECONDS);
    validator = RequestValidator.create(vertx, c);
  }

  @AfterAll
  static void close() throws Exception {
    vertx.close().toCompletionStage().toCompletableFuture().get(30, TimeUnit.SECONDS);
  }

  @Test
  void theReaderAndTheOpenApiValidatorAgreeOnEveryBody() throws Exception {
    long seed = Long.getLong("equivalence.seed", 20261204L);
    System.out.println("ExecuteRequestReaderEquivalenceTest seed " + seed);
    Random random = new Random(seed);
    BodyGenerator gen = new BodyGenerator(random);
    List<String> disagreements = new ArrayList<>();
    int accepted = 0;
    for (int i = 0; i < BODIES; i++) {
      String contentType = gen.contentType();
      String body = gen.body();
      String pathId = random.nextInt(4) == 0 ? gen.sessionId() : null;
      boolean byValidator = validatorAccepts(contentType, body, pathId);
      boolean byReader = readerAccepts(contentType, body, pathId);
      if (byValidator != byReader) {
        disagreements.add((byValidator ? "validator accepts, reader refuses" : "reader accepts, validator refuses")
            + ": content-type " + contentType + ", path id " + pathId + ", body " + body);
      }
      if (byValidator) {
        accepted++;
      }
    }
    assertThat(disagreements).as("bodies the two judge differently (seed %d)", seed).isEmpty();
    // The generator must exercise both verdicts, or the agreement says nothing.
    assertThat(accepted).isBetween(BODIES / 10, BODIES * 9 / 10);
  }

  private static boolean validatorAccepts(String contentType, String body, String pathId) throws Exception {
    Map<String, RequestParameter> path = pathId == null ? Map.of() : Map.of("id", new RequestParameterImpl(pathId));
    var request = new ValidatableRequestImpl(Map.of(), Map.of(), path, Map.of(),
        new RequestParameterImpl(Buffer.buffer(body)), contentType);
    try {
      validator.validate(request, pathId == null ? "execute" : "executeInSession").toCompletionStage()
          .toCompletableFuture().get(10, TimeUnit.SECONDS);
      return true;
    } catch (java.util.concurrent.ExecutionException refused) {
      return false;
    }
  }

  private static boolean readerAccepts(String contentType, String body, String pathId) {
    try {
      if (pathId != null && ExecuteRequestReader.read("application/json", Buffer.buffer("{\"tool\":\"x\"}"),
          pathId, null) == null) {
        return false;
      }
      return ExecuteRequestReader.violation(ExecuteRequestReader.decode(contentType, Buffer.buffer(body), null))
          == null;
    } catch (SnakepitException refused) {
      return false;
    }
  }

  /** Bodies near the contract's edges: valid ones, and each field broken in turn. */
  private static final class BodyGenerator {

    private final Random random;

    BodyGenerator(Random random) {
      this.random = random;
    }

    String contentType() {
      return pick("application/json", "application/json", "application/json", "application/json; charset=utf-8",
          "application/json ; charset=UTF-8", "application/jsonx", "Application/JSON", "text/plain",
          "application/x-ndjson", " application/json", null);
    }

    String body() {
      return switch (random.nextInt(12)) {
        case 0 -> pick("", " ", "null", "[]", "[{\"tool\":\"a\"}]", "\"tool\"", "42", "true", "{", "{\"tool\":}",
            "{\"tool\":\"a\"} trailing", "{\"tool\":\"a\"}{}", "{\"tool\":\"a\",}", "{'tool':'a'}",
            "{\"tool\":\"a\",\"tool\":\"b\"}", "{\"tool\":\"a\",\"tool\":1}", "{\"tool\":1,\"tool\":\"a\"}");
        default -> object().encode();
      };
    }

    private JsonObject object() {
      JsonObject o = new JsonObject();
      boolean broken = random.nextInt(3) == 0;
      int field = random.nextInt(7);
      if (!(broken && field == 0 && random.nextBoolean())) {
        o.put("tool", broken && field == 0 ? anyValue(tool()) : tool());
      }
      if (random.nextBoolean() || (broken && field == 1)) {
        o.put("args", broken && field == 1 ? anyValue(new JsonObject().put("x", 1))
            : new JsonObject().put("n", random.nextInt(100)).put("s", "v"));
      }
      if (random.nextInt(4) == 0 || (broken && field == 2)) {
        o.put("pool", broken && field == 2 ? anyValue("default") : pick("default", "", "p-1", "\u00e9"));
      }
      if (random.nextInt(3) == 0 || (broken && field == 3)) {
        o.put("timeout_ms", broken && field == 3 ? timeoutEdge() : 1 + random.nextInt(60_000));
      }
      if (random.nextInt(3) == 0 || (broken && field == 4)) {
        o.put("session_id", broken && field == 4 ? anyValue(sessionId()) : "s-" + random.nextInt(1000));
      }
      if (random.nextInt(4) == 0 || (broken && field == 5)) {
        o.put("affinity", broken && field == 5 ? anyValue(pick("hint", "HINT", "strict", "", "strict-queue "))
            : pick("hint", "strict-queue", "strict-fail-fast"));
      }
      if (broken && field == 6) {
        o.put(pick("tools", "extra", "", "Tool", "args ", "sink"), anyValue(1));
      }
      return o;
    }

    private String tool() {
      return switch (random.nextInt(8)) {
        case 0 -> "";
        case 1 -> "t".repeat(128);
        case 2 -> "t".repeat(129);
        case 3 -> "\uD83D\uDC0D".repeat(128); // 128 snakes: 256 UTF-16 units, 128 characters
        case 4 -> "\uD83D\uDC0D".repeat(129);
        case 5 -> "__snakepit_x";
        default -> pick("noop", "echo", "add", "a b", "\u00fcber");
      };
    }

    String sessionId() {
      return switch (random.nextInt(9)) {
        case 0 -> "";
        case 1 -> "s".repeat(128);
        case 2 -> "s".repeat(129);
        case 3 -> "abc\n";
        case 4 -> "a/b";
        case 5 -> "a b";
        case 6 -> "\u00e9";
        default -> pick("s1", "user:42", "a.b-c_d", "S-9");
      };
    }

    private Object timeoutEdge() {
      return pick(0, 1, -1, 1.0, 1.5, 86_400_000, 86_400_001, 86_400_000.0, 1e20, 1e300,
          new java.math.BigInteger("123456789012345678901234567890"), 5L, "5", true, null, new JsonArray());
    }

    /** A value of a random JSON type, sometimes {@code valid}. */
    private Object anyValue(Object valid) {
      return pick(valid, valid, 1, 2.5, "x", true, null, new JsonArray().add(1), new JsonObject().put("a", 1));
    }

    @SafeVarargs
    private <T> T pick(T... choices) {
      return choices[random.nextInt(choices.length)];
    }
  }
}
