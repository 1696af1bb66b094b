package io.snakepit.session;

/**
 * Runs {@link SessionMergeProperties} in {@code mvn test}: Surefire's default
 * includes ({@code *Test}, {@code Test*}, {@code *Tests}, {@code *TestCase})
 * do not match {@code *Properties}. jqwik runs inherited properties.
 */
class SessionMergePropertiesTest extends SessionMergeProperties {
}
