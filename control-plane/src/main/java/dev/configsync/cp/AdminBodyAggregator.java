package dev.configsync.cp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;

/**
 * Collects an admin request's body up to the limit, and answers a larger one with a JSON 413 (as
 * every other admin error) instead of Netty's empty one.
 */
final class AdminBodyAggregator extends HttpObjectAggregator {
  private final int maxBytes;

  AdminBodyAggregator(int maxBytes) {
    super(maxBytes);
    this.maxBytes = maxBytes;
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    // The rest of the body is dropped by the aggregator as it arrives.
    HttpJson.sendAndLinger(
        ctx,
        HttpJson.error(
            HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
            "too_large",
            "the request body is larger than "
                + maxBytes
                + " bytes (maxAdminBodyBytes); nothing was published"));
  }
}
