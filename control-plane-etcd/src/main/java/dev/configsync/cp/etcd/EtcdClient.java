package dev.configsync.cp.etcd;

import com.google.protobuf.ByteString;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeRequest;
import dev.configsync.cp.etcd.internal.rpc.DeleteRangeResponse;
import dev.configsync.cp.etcd.internal.rpc.KVGrpc;
import dev.configsync.cp.etcd.internal.rpc.LeaseGrantRequest;
import dev.configsync.cp.etcd.internal.rpc.LeaseGrantResponse;
import dev.configsync.cp.etcd.internal.rpc.LeaseGrpc;
import dev.configsync.cp.etcd.internal.rpc.LeaseRevokeRequest;
import dev.configsync.cp.etcd.internal.rpc.PutRequest;
import dev.configsync.cp.etcd.internal.rpc.PutResponse;
import dev.configsync.cp.etcd.internal.rpc.RangeRequest;
import dev.configsync.cp.etcd.internal.rpc.RangeResponse;
import dev.configsync.cp.etcd.internal.rpc.TxnRequest;
import dev.configsync.cp.etcd.internal.rpc.TxnResponse;
import dev.configsync.cp.etcd.internal.rpc.WatchGrpc;
import io.grpc.CallOptions;
import io.grpc.ClientInterceptors;
import io.grpc.ClientStreamTracer;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Status;
import io.grpc.StatusRuntimeException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.MetadataUtils;
import io.netty.handler.ssl.ApplicationProtocolConfig;
import io.netty.handler.ssl.ApplicationProtocolNames;
import io.netty.handler.ssl.ClientAuth;
import io.netty.handler.ssl.IdentityCipherSuiteFilter;
import io.netty.handler.ssl.JdkSslContext;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicBoolean;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLHandshakeException;
import org.jspecify.annotations.Nullable;

/**
 * The store's client of etcd's v3 gRPC API (KV, Watch, Lease), over ONE long-lived gRPC channel
 * (grpc-java on Netty) to every member of the endpoints list: the channel keeps one HTTP/2
 * connection per member it can reach, spreads calls over them (round robin) and leaves out the ones
 * it cannot reach, so a call fails over to another member without a new connection or TLS
 * handshake. The watch and the lease keep-alive run as streams on the same channel ({@link
 * #watchStub()}, {@link #leaseStub()}).
 *
 * <p>Unary calls block the calling thread, at most {@code timeout} in all, and go again to the
 * channel (so to another member) when etcd says it has no leader or cannot be reached. A call that
 * may have been applied without an answer ({@link Call#ONCE}) is not sent again once its request
 * went out: it fails with {@link OutcomeUnknownException}.
 *
 * <p>Thread-safe. The channel's own threads (Netty's event loop, grpc's executor) only run the
 * streams' callbacks, which hand their results over (see {@link EtcdSession}).
 */
final class EtcdClient implements AutoCloseable {
  /** Whether a call may be repeated after its request reached a member. */
  enum Call {
    /** Reads, lease grants, and writes whose repetition is harmless. */
    IDEMPOTENT,
    /** A compare-and-set: sent again only when it certainly did not reach a member. */
    ONCE
  }

  /** etcd refused the request (an error it would give again): no failover. */
  static final class EtcdException extends IOException {
    private static final long serialVersionUID = 1L;
    final Status.Code code;

    EtcdException(Status.Code code, String message) {
      super(message);
      this.code = code;
    }
  }

  /** Every member refused the TLS handshake: refused again on any retry, nothing was processed. */
  static final class TlsRefusedException extends IOException {
    private static final long serialVersionUID = 1L;

    TlsRefusedException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** A call that reached a member but got no answer: it may or may not have been applied. */
  static final class OutcomeUnknownException extends IOException {
    private static final long serialVersionUID = 1L;

    OutcomeUnknownException(String message, Throwable cause) {
      super(message, cause);
    }
  }

  /** etcd's header asking a member to end a stream when it has no leader (a cut-off member). */
  private static final Metadata.Key<String> HAS_LEADER =
      Metadata.Key.of("hasleader", Metadata.ASCII_STRING_MARSHALLER);

  private final List<URI> endpoints;
  private final Duration timeout;
  private final ManagedChannel channel;

  EtcdClient(List<URI> endpoints, Duration timeout, @Nullable SSLContext ssl) {
    this.endpoints = List.copyOf(endpoints);
    this.timeout = timeout;
    NettyChannelBuilder builder =
        NettyChannelBuilder.forTarget(EtcdEndpoints.target(this.endpoints))
            .defaultLoadBalancingPolicy("round_robin")
            // etcd's responses carry whole configurations (its request limit is 1.5 MiB by
            // default, its response limit is not): take what it sends.
            .maxInboundMessageSize(Integer.MAX_VALUE)
            // A connection that went quiet behind a network fault is found and replaced; etcd
            // refuses pings more often than every 5 s (its --grpc-keepalive-min-time).
            .keepAliveTime(10, TimeUnit.SECONDS)
            .keepAliveTimeout(Math.max(1, timeout.toMillis()), TimeUnit.MILLISECONDS)
            .userAgent("configsync");
    if (ssl != null) {
      builder.sslContext(
          new JdkSslContext(
              ssl,
              true,
              null,
              IdentityCipherSuiteFilter.INSTANCE,
              new ApplicationProtocolConfig(
                  ApplicationProtocolConfig.Protocol.ALPN,
                  ApplicationProtocolConfig.SelectorFailureBehavior.NO_ADVERTISE,
                  ApplicationProtocolConfig.SelectedListenerFailureBehavior.ACCEPT,
                  ApplicationProtocolNames.HTTP_2),
              ClientAuth.NONE,
              null,
              false));
    } else {
      builder.usePlaintext();
    }
    this.channel = builder.build();
  }

  List<URI> endpoints() {
    return endpoints;
  }

  /** The stub of etcd's Watch service; its streams end when their member loses its leader. */
  WatchGrpc.WatchStub watchStub() {
    Metadata headers = new Metadata();
    headers.put(HAS_LEADER, "true");
    return WatchGrpc.newStub(
        ClientInterceptors.intercept(channel, MetadataUtils.newAttachHeadersInterceptor(headers)));
  }

  /** The stub of etcd's Lease service (for the keep-alive stream). */
  LeaseGrpc.LeaseStub leaseStub() {
    return LeaseGrpc.newStub(channel);
  }

  RangeResponse range(RangeRequest request) throws IOException {
    return unary(KVGrpc.getRangeMethod(), request, Call.IDEMPOTENT);
  }

  PutResponse put(PutRequest request) throws IOException {
    return unary(KVGrpc.getPutMethod(), request, Call.IDEMPOTENT);
  }

  DeleteRangeResponse deleteRange(DeleteRangeRequest request) throws IOException {
    return unary(KVGrpc.getDeleteRangeMethod(), request, Call.IDEMPOTENT);
  }

  TxnResponse txn(TxnRequest request, Call kind) throws IOException {
    return unary(KVGrpc.getTxnMethod(), request, kind);
  }

  LeaseGrantResponse leaseGrant(long ttlSeconds) throws IOException {
    return unary(
        LeaseGrpc.getLeaseGrantMethod(),
        LeaseGrantRequest.newBuilder().setTTL(ttlSeconds).build(),
        Call.IDEMPOTENT);
  }

  void leaseRevoke(long id) throws IOException {
    var unused =
        unary(
            LeaseGrpc.getLeaseRevokeMethod(),
            LeaseRevokeRequest.newBuilder().setID(id).build(),
            Call.IDEMPOTENT);
  }

  /** Notes whether the request of one attempt went out to a member. */
  private static final class SentTracer extends ClientStreamTracer.Factory {
    final AtomicBoolean sent = new AtomicBoolean();

    @Override
    public ClientStreamTracer newClientStreamTracer(
        ClientStreamTracer.StreamInfo info, Metadata headers) {
      return new ClientStreamTracer() {
        @Override
        public void outboundMessageSent(int seqNo, long wireSize, long uncompressedSize) {
          sent.set(true);
        }
      };
    }
  }

  /**
   * One unary call, again on the channel (another member) while etcd is out of reach or without a
   * leader, until it answers or {@code timeout} has passed.
   *
   * @throws EtcdException when etcd refused it
   * @throws OutcomeUnknownException when a {@link Call#ONCE} call got no answer after it was sent
   * @throws IOException when no member answered within the timeout
   */
  private <Q, R> R unary(MethodDescriptor<Q, R> method, Q request, Call kind) throws IOException {
    long deadline = System.nanoTime() + timeout.toNanos();
    IOException last = null;
    while (true) {
      long left = deadline - System.nanoTime();
      if (left <= 0) {
        break;
      }
      SentTracer tracer = new SentTracer();
      CallOptions options =
          CallOptions.DEFAULT
              .withDeadlineAfter(left, TimeUnit.NANOSECONDS)
              .withStreamTracerFactory(tracer);
      try {
        return ClientCalls.blockingUnaryCall(channel, method, options, request);
      } catch (StatusRuntimeException e) {
        Status status = e.getStatus();
        String message = describe(status);
        if (tlsRefused(status.getCause())) {
          // A certificate refused (by either side) is refused again: no point waiting for the
          // deadline. etcd did not process the request.
          throw new TlsRefusedException(
              "every etcd member refused the TLS handshake (check the CA, certificate and key): "
                  + message,
              e);
        }
        boolean sent = tracer.sent.get();
        if (kind == Call.ONCE && sent && message.contains("timed out")) {
          // etcd gave up waiting for its own commit: the write may still be applied.
          throw new OutcomeUnknownException(
              "etcd timed out on a write it may have applied: " + message, e);
        }
        if (retryable(status)) {
          // Not applied (no leader, member stopping), or no member reached: try again.
          last = new IOException(message, e);
          if (kind == Call.ONCE && sent && !leaderTrouble(message)) {
            throw new OutcomeUnknownException(
                "etcd did not answer a write it may have applied: " + message, e);
          }
          if (!pause(deadline)) {
            break;
          }
          continue;
        }
        if (memberGaveUp(status)) {
          // The member let the deadline this call sent run out (it could not commit, or serve a
          // quorum read, without a quorum): an answer that says nothing was done yet, not a
          // refusal it would give again. Counted as no answer, so that "unreachable since" keeps
          // etcd's last real answer.
          if (kind == Call.ONCE && sent) {
            throw new OutcomeUnknownException(
                "etcd gave up on a write it may have applied: " + message, e);
          }
          last = new IOException(message, e);
          break;
        }
        if (status.getCode() == Status.Code.DEADLINE_EXCEEDED) {
          // No answer at all: the connections may hang behind a network fault (a black hole
          // answers neither a request nor a handshake); start afresh on the next call.
          reconnect();
          if (kind == Call.ONCE && sent) {
            throw new OutcomeUnknownException(
                "etcd did not answer a write it may have applied within "
                    + timeout.toMillis()
                    + " ms",
                e);
          }
          last = new IOException(message, e);
          break;
        }
        throw new EtcdException(status.getCode(), message);
      }
    }
    throw new IOException(
        "no etcd member answered within "
            + timeout.toMillis()
            + " ms (tried "
            + endpoints
            + ")"
            + (last == null ? "" : "; last error: " + last.getMessage()),
        last);
  }

  /**
   * Unavailable (etcd's "no leader" family, or no member reached), or the connection closed under
   * the call: grpc reports that as {@code UNKNOWN: channel closed} at times rather than {@code
   * UNAVAILABLE} (seen when a member died under a publish). Either way a write it cut off may have
   * been applied (the caller finds out), and a read is tried again.
   */
  private static boolean retryable(Status status) {
    return status.getCode() == Status.Code.UNAVAILABLE
        || (status.getCode() == Status.Code.UNKNOWN
            && (String.valueOf(status.getDescription()).contains("channel closed")
                || status.getCause() instanceof java.nio.channels.ClosedChannelException));
  }

  /**
   * Whether a member answered that the call's deadline ran out on its side ({@code UNKNOWN: context
   * deadline exceeded}, which etcd sends when the deadline expires there before the client's own
   * timer fires: seen with quorum lost on a loaded machine).
   */
  static boolean memberGaveUp(Status status) {
    return (status.getCode() == Status.Code.UNKNOWN
            || status.getCode() == Status.Code.DEADLINE_EXCEEDED
            || status.getCode() == Status.Code.CANCELLED)
        && String.valueOf(status.getDescription()).contains("context deadline exceeded");
  }

  /** etcd's answers that say the request was not applied on this member. */
  private static boolean leaderTrouble(String message) {
    return message.contains("no leader")
        || message.contains("leader changed")
        || message.contains("not capable")
        || message.contains("stopped");
  }

  /**
   * Whether {@code e} (a status's cause) is a TLS handshake refusal: a certificate this side does
   * not trust, or a fatal alert from the member (no client certificate, or one it does not trust).
   */
  static boolean tlsRefused(@Nullable Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof SSLHandshakeException) {
        return true;
      }
      if (t instanceof SSLException) {
        String m = String.valueOf(t.getMessage());
        if (m.contains("fatal alert") || m.contains("certificate")) {
          return true;
        }
      }
    }
    return false;
  }

  private static boolean pause(long deadline) {
    long nap = Math.min(100_000_000L, deadline - System.nanoTime());
    if (nap <= 0) {
      return false;
    }
    try {
      TimeUnit.NANOSECONDS.sleep(nap);
      return true;
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return false;
    }
  }

  /** A status as one line: its code and etcd's message (or the transport's cause). */
  static String describe(Status status) {
    String description = status.getDescription();
    Throwable cause = status.getCause();
    if (description == null && cause != null) {
      description = cause.getMessage();
    }
    return status.getCode() + (description == null ? "" : ": " + description);
  }

  /**
   * Drops the channel's connections (calls under way finish on them) so that the next call connects
   * afresh: for connections that went silent without closing, which a network fault leaves behind,
   * even in the middle of their handshake.
   */
  void reconnect() {
    channel.enterIdle();
  }

  /** Closes the channel (and with it every stream); waits briefly for it. */
  @Override
  public void close() {
    channel.shutdownNow();
    try {
      channel.awaitTermination(timeout.toMillis(), TimeUnit.MILLISECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  // ---- encoding --------------------------------------------------------------------------------

  static ByteString bytes(String text) {
    return ByteString.copyFromUtf8(text);
  }

  static String text(ByteString bytes) {
    return bytes.toString(StandardCharsets.UTF_8);
  }

  /** The range end that selects every key starting with {@code prefix}. */
  static ByteString prefixEnd(String prefix) {
    byte[] b = prefix.getBytes(StandardCharsets.UTF_8);
    for (int i = b.length - 1; i >= 0; i--) {
      if (b[i] != (byte) 0xff) {
        byte[] end = Arrays.copyOf(b, i + 1);
        end[i]++;
        return ByteString.copyFrom(end);
      }
    }
    return ByteString.copyFrom(new byte[] {0});
  }
}
