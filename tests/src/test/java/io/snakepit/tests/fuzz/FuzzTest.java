package io.snakepit.tests.fuzz;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import io.snakepit.tests.LongRuns;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;

/**
 * A fixed-seed fuzz run of a minute against a real node (docs/operations.md, "Fuzzing"): hostile HTTP,
 * gRPC, event-bus messages and worker frames, each answered with a typed error; the node healthy and its
 * heap after GC, threads and open files flat. Longer runs: {@code tests/fuzz.sh --seed N --duration 10m}.
 */
class FuzzTest {

  @Test
  void aMinuteOfHostileInputFindsNothing() throws Exception {
    assumeTrue(LongRuns.enabled(), LongRuns.SKIPPED);
    Path out = Path.of("target", "fuzz", "ci-seed-11");
    Files.createDirectories(out);
    Findings findings = new FuzzRun(new FuzzRun.Options(11, Duration.ofSeconds(60), out,
        Path.of("..").toAbsolutePath().normalize())).run();
    System.out.print(findings.summary());
    assertThat(findings.inputs()).containsKeys(HttpFuzzer.DOOR, GrpcFuzzer.DOOR, EventBusFuzzer.DOOR);
    assertThat(findings.clean()).as(findings.summary()).isTrue();
  }
}
