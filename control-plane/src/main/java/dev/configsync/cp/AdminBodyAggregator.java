package dev.configsync.cp;

import io.netty.channel.ChannelHandlerContext;
import io.netty.channel.ChannelPipeline;
import io.netty.handler.codec.http.HttpMessage;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpResponseStatus;
import org.jspecify.annotations.Nullable;

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

  /**
   * A request that expects {@code 100 Continue} and announces a body over the limit gets the same
   * JSON 413 as any other (below) instead of Netty's empty one.
   */
  @Override
  protected @Nullable Object newContinueResponse(
      HttpMessage start, int maxContentLength, ChannelPipeline pipeline) {
    if (isContentLengthInvalid(start, maxContentLength)) {
      return null; // the aggregator then calls handleOversizedMessage
    }
    return super.newContinueResponse(start, maxContentLength, pipeline);
  }

  @Override
  protected void handleOversizedMessage(ChannelHandlerContext ctx, HttpMessage oversized) {
    // The rest of the body is dropped by the aggregator as it arrives; the answer is sent in turn,
    // after those of the requests before it.
    ctx.fireChannelRead(
        new AdminConnections.Refusal(
            HttpJson.error(
                HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE,
                "too_large",
                "the request body is larger than "
                    + maxBytes
                    + " bytes (maxAdminBodyBytes); nothing was published")));
  }
}
