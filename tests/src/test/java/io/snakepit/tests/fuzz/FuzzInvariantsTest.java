package io.snakepit.tests.fuzz;

import static org.assertj.core.api.Assertions.assertThat;

import java.nio.charset.StandardCharsets;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The HTTP fuzzer's invariants can fail: each kind of wrong answer is reported, each right one is not. */
class FuzzInvariantsTest {

  private static RawHttp.Response answer(int status, String body) {
    return new RawHttp.Response(status, Map.of(), body.getBytes(StandardCharsets.UTF_8), null);
  }

  private static final String TYPED = "{\"error\":{\"code\":\"bad_request\",\"message\":\"fix it\","
      + "\"correlation_id\":\"c1\"}}";

  @Test
  void wrongAnswersAreReported() {
    assertThat(HttpFuzzer.HttpInvariants.problem("GET", answer(414, ""), false)).contains("without a typed error");
    assertThat(HttpFuzzer.HttpInvariants.problem("GET", answer(400, "Bad Request"), false))
        .contains("without a typed error");
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", answer(500, "{\"error\":{\"code\":\"internal\","
        + "\"message\":\"x\",\"correlation_id\":\"c\"}}"), false)).contains("internal");
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", answer(503, "{\"error\":{\"code\":\"overloaded\","
        + "\"message\":\"x\",\"correlation_id\":\"c\"}}"), false)).contains("503");
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", answer(400, "{\"error\":{\"code\":\"bad_request\"}}"),
        false)).contains("without a message or correlation id");
    RawHttp.Response closed = new RawHttp.Response(0, Map.of(), new byte[0], "connection closed without a response");
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", closed, false)).contains("closed");
  }

  @Test
  void rightAnswersAreNot() {
    assertThat(HttpFuzzer.HttpInvariants.problem("GET", answer(200, "{}"), false)).isNull();
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", answer(400, TYPED), false)).isNull();
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", answer(500, "{\"error\":{\"code\":\"tool_failed\","
        + "\"message\":\"x\",\"correlation_id\":\"c\"}}"), false)).isNull();
    RawHttp.Response closed = new RawHttp.Response(0, Map.of(), new byte[0], "connection closed without a response");
    assertThat(HttpFuzzer.HttpInvariants.problem("POST", closed, true)).isNull();
  }
}
