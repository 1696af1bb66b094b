package io.snakepit.supervisor;

/**
 * How the node signals one worker process. Workers are children of their
 * pool's {@link Forkserver}, not of the JVM, so the signals go through it:
 * it knows whether the pid is still its worker's, and a SIGKILL also ends
 * the worker's process group.
 */
interface WorkerSignals {

  /** SIGTERM: asks the worker to end. */
  void terminate();

  /** SIGKILL: ends the worker and its process group now. */
  void kill();
}
