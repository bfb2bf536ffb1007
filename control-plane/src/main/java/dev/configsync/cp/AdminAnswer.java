package dev.configsync.cp;

import io.netty.handler.codec.http.FullHttpResponse;
import java.util.function.Supplier;

/**
 * How {@link AdminEndpoints} answers one admin request: at once, or built off the event loop on the
 * publish thread or a read thread. {@link AdminConnections} sends it, in turn.
 */
sealed interface AdminAnswer {
  /** An answer ready now; {@code close} ends the connection after it, whatever the client asked. */
  record Now(FullHttpResponse response, boolean close) implements AdminAnswer {}

  /** An answer built on the admin read thread ({@code GET}s). */
  record Read(Supplier<FullHttpResponse> answer) implements AdminAnswer {}

  /** An answer built on the admin publish thread ({@code PUT /config}). */
  record Publish(Supplier<FullHttpResponse> answer) implements AdminAnswer {}
}
