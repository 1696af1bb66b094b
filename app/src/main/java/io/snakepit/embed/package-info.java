/**
 * Snakepit for applications (docs/embedding.md). {@link io.snakepit.embed.Snakepit#deploy} deploys Snakepit's
 * verticles and Python workers in an application's own Vert.x and returns a
 * {@link io.snakepit.embed.SnakepitHandle} that drains and stops them; {@link io.snakepit.embed.SnakepitCluster#join}
 * joins a running cluster of nodes as a Hazelcast lite member and returns a
 * {@link io.snakepit.embed.JoinedCluster} with its clustered Vert.x and a client. Options that cannot work are
 * refused with a {@link io.snakepit.contract.SnakepitException} of code {@code bad_request} before anything starts.
 */
package io.snakepit.embed;
