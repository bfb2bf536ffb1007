package dev.configsync.cp;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import io.netty.buffer.Unpooled;
import io.netty.channel.ChannelFutureListener;
import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.DefaultFullHttpResponse;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpHeaderValues;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.HttpVersion;
import java.util.Map;

/** JSON HTTP responses, shared by the outlet's pre-upgrade errors and the admin API. */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class HttpJson {
  static final ObjectMapper MAPPER = new ObjectMapper();

  private HttpJson() {}

  /** A response with {@code body} serialized as JSON. */
  static FullHttpResponse response(HttpResponseStatus status, Object body) {
    byte[] bytes;
    try {
      bytes = MAPPER.writeValueAsBytes(body);
    } catch (JsonProcessingException e) {
      throw new IllegalStateException("a response body could not be serialized", e);
    }
    FullHttpResponse response =
        new DefaultFullHttpResponse(HttpVersion.HTTP_1_1, status, Unpooled.wrappedBuffer(bytes));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, HttpHeaderValues.APPLICATION_JSON);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, bytes.length);
    return response;
  }

  /** An error response: {@code {"error": "<code>", "message": "<what is wrong>"}}. */
  static FullHttpResponse error(HttpResponseStatus status, String code, String message) {
    return response(status, Map.of("error", code, "message", message));
  }

  /**
   * Sends {@code response} to a request whose body is not read (refused before or while it
   * arrives), then ends the connection gracefully: the output is shut down after the response (a
   * FIN, not a reset), and what the client still sends is read and dropped until it closes, or
   * until the connection is closed as idle. Closing at once instead would reset the connection
   * while the client is still sending, and a reset can destroy the response before the client reads
   * it. Plain TCP channels only (the admin API).
   */
  static void sendAndLinger(ChannelHandlerContext ctx, FullHttpResponse response) {
    response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
    ctx.writeAndFlush(response)
        .addListener(
            (ChannelFutureListener)
                f -> {
                  if (f.isSuccess()
                      && f.channel() instanceof io.netty.channel.socket.SocketChannel socket) {
                    socket.shutdownOutput();
                  } else {
                    f.channel().close();
                  }
                });
  }

  /** Sends {@code response}, then closes the connection unless {@code keepAlive}. */
  static void send(ChannelHandlerContext ctx, FullHttpResponse response, boolean keepAlive) {
    if (keepAlive) {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.KEEP_ALIVE);
      ctx.writeAndFlush(response);
    } else {
      response.headers().set(HttpHeaderNames.CONNECTION, HttpHeaderValues.CLOSE);
      ctx.writeAndFlush(response).addListener(ChannelFutureListener.CLOSE);
    }
  }
}
