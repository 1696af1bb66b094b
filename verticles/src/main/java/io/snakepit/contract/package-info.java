/**
 * The event-bus contract: addresses, headers and error codes, defined once and
 * shared by every verticle and client.
 */
package io.snakepit.contract;
