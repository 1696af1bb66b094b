/**
 * Tracing helpers the library shares with the node (docs/tracing.md): W3C {@code traceparent} values and
 * the hand-off of the span ids Python workers choose. The library depends on the OpenTelemetry API only;
 * the node installs the SDK when {@code tracing.endpoint} is set.
 */
package io.snakepit.tracing;
