package io.snakepit.session.migration;

import static org.assertj.core.api.Assertions.assertThat;

import io.vertx.core.Future;
import io.vertx.core.Promise;
import org.junit.jupiter.api.Test;

/** The gate per session id: writes together, a change of incarnation alone, in the order they came. */
class SessionIdGateTest {

  @Test
  void writesPassTogetherAnExclusiveOneAloneAndNoneOvertakesAWaitingOne() {
    SessionIdGate gate = new SessionIdGate();
    Promise<Void> firstWrite = Promise.promise();
    Promise<Void> secondWrite = Promise.promise();
    Promise<Void> delete = Promise.promise();
    Future<Void> w1 = gate.run("a", false, firstWrite::future);
    Future<Void> w2 = gate.run("a", false, secondWrite::future);
    boolean[] deleteRan = {false};
    Future<Void> d = gate.run("a", true, () -> {
      deleteRan[0] = true;
      return delete.future();
    });
    boolean[] lateWriteRan = {false};
    Future<Void> w3 = gate.run("a", false, () -> {
      lateWriteRan[0] = true;
      return Future.succeededFuture();
    });
    boolean[] otherIdRan = {false};
    gate.run("b", true, () -> {
      otherIdRan[0] = true;
      return Future.succeededFuture();
    });
    assertThat(otherIdRan[0]).as("another id does not wait").isTrue();
    assertThat(deleteRan[0]).as("the delete waits for both writes").isFalse();
    assertThat(lateWriteRan[0]).as("a write after the waiting delete does not overtake it").isFalse();
    firstWrite.complete();
    assertThat(deleteRan[0]).isFalse();
    secondWrite.complete();
    assertThat(deleteRan[0]).isTrue();
    assertThat(lateWriteRan[0]).as("nothing passes while the delete runs").isFalse();
    delete.complete();
    assertThat(lateWriteRan[0]).isTrue();
    assertThat(Future.all(w1, w2, d, w3).succeeded()).isTrue();
    assertThat(gate.busyIds()).as("an idle gate keeps nothing").isZero();
  }

  @Test
  void aFailedOrThrowingOperationStillPassesTheGateOn() {
    SessionIdGate gate = new SessionIdGate();
    Future<Void> failed = gate.run("a", true, () -> Future.failedFuture(new IllegalStateException("no")));
    Future<Void> thrown = gate.run("a", true, () -> {
      throw new IllegalStateException("thrown");
    });
    Future<String> next = gate.run("a", true, () -> Future.succeededFuture("ran"));
    assertThat(failed.failed()).isTrue();
    assertThat(thrown.failed()).isTrue();
    assertThat(next.result()).isEqualTo("ran");
    assertThat(gate.busyIds()).isZero();
  }
}
