package io.snakepit.session;

import java.util.List;

/**
 * One page of {@link SessionStore#list}.
 *
 * @param sessions   the sessions of this page, in id order
 * @param nextCursor pass it to get the next page; null on the last page
 */
public record SessionPage(List<Session> sessions, String nextCursor) {
}
