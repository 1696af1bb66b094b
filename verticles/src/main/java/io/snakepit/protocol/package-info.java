/** The wire protocol between a node and its Python workers (docs/protocol.md). */
package io.snakepit.protocol;
