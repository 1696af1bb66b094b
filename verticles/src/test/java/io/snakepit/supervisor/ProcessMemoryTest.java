package io.snakepit.supervisor;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import org.junit.jupiter.api.Test;

/** The node's own reading of a process's RSS. */
class ProcessMemoryTest {

  @Test
  void readsALiveProcessAndReportsAGoneOneAsUnknown() throws Exception {
    assumeTrue(ProcessMemory.SUPPORTED, "no /proc here: the node falls back to the RSS workers report");
    long self = ProcessMemory.rssBytes(ProcessHandle.current().pid());
    // A JVM running JUnit holds tens of MiB; the figure is in bytes, not the kernel's KiB.
    assertThat(self).isGreaterThan(10L << 20);
    Process p = new ProcessBuilder("true").start();
    long pid = p.pid();
    p.waitFor();
    assertThat(ProcessMemory.rssBytes(pid)).isEqualTo(-1);
    assertThat(ProcessMemory.rssBytes(-1)).isEqualTo(-1);
  }
}
