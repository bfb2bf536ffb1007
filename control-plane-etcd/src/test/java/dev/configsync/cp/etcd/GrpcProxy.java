package dev.configsync.cp.etcd;

import io.grpc.CallOptions;
import io.grpc.ClientCall;
import io.grpc.HandlerRegistry;
import io.grpc.ManagedChannel;
import io.grpc.Metadata;
import io.grpc.MethodDescriptor;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerMethodDefinition;
import io.grpc.Status;
import io.grpc.StatusException;
import io.grpc.netty.NettyChannelBuilder;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.ClientCalls;
import io.grpc.stub.ServerCalls;
import java.io.ByteArrayInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;

/**
 * A gRPC proxy in front of one plain-text etcd member: forwards every call (unary or stream) as
 * bytes, except etcd's {@code KV/Txn}, which it hands to a {@link TxnRule} that may forward it,
 * answer otherwise, or both. It plays the member whose answer to a write went wrong.
 */
final class GrpcProxy implements AutoCloseable {
  static final String TXN = "etcdserverpb.KV/Txn";

  /** What the proxy does with the n-th transaction (1-based). */
  @FunctionalInterface
  interface TxnRule {
    /** Returns the answer to send, or throws the status to end the call with. */
    byte[] handle(int n, byte[] request) throws StatusException, IOException;
  }

  private static final MethodDescriptor.Marshaller<byte[]> BYTES =
      new MethodDescriptor.Marshaller<>() {
        @Override
        public InputStream stream(byte[] value) {
          return new ByteArrayInputStream(value);
        }

        @Override
        public byte[] parse(InputStream stream) {
          try {
            return stream.readAllBytes();
          } catch (IOException e) {
            throw new UncheckedIOException(e);
          }
        }
      };

  private final ManagedChannel backend;
  private final Server server;

  GrpcProxy(URI target, TxnRule rule) throws IOException {
    backend =
        NettyChannelBuilder.forAddress(target.getHost(), target.getPort()).usePlaintext().build();
    AtomicInteger txns = new AtomicInteger();
    ServerCallHandler<byte[], byte[]> txn =
        ServerCalls.asyncUnaryCall(
            (request, answer) -> {
              try {
                answer.onNext(rule.handle(txns.incrementAndGet(), request));
                answer.onCompleted();
              } catch (StatusException e) {
                answer.onError(e);
              } catch (IOException | RuntimeException e) {
                answer.onError(Status.INTERNAL.withCause(e).asException());
              }
            });
    server =
        NettyServerBuilder.forAddress(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .fallbackHandlerRegistry(
                new HandlerRegistry() {
                  @Override
                  public @Nullable ServerMethodDefinition<?, ?> lookupMethod(
                      String name, @Nullable String authority) {
                    MethodDescriptor<byte[], byte[]> method = method(name);
                    return ServerMethodDefinition.create(
                        method, name.equals(TXN) ? txn : new Forward(method));
                  }
                })
            .build()
            .start();
  }

  private static MethodDescriptor<byte[], byte[]> method(String name) {
    return MethodDescriptor.newBuilder(BYTES, BYTES)
        .setFullMethodName(name)
        .setType(
            name.equals(TXN)
                ? MethodDescriptor.MethodType.UNARY
                : MethodDescriptor.MethodType.UNKNOWN)
        .build();
  }

  /** The proxy's address, for the store's endpoints list. */
  URI endpoint() {
    return URI.create("http://127.0.0.1:" + server.getPort());
  }

  /** Sends {@code request} to etcd as a transaction and returns etcd's answer. */
  byte[] forward(byte[] request) {
    return ClientCalls.blockingUnaryCall(
        backend, method(TXN), CallOptions.DEFAULT.withDeadlineAfter(10, TimeUnit.SECONDS), request);
  }

  /** Pipes one call, in both directions, to the same method on etcd. */
  private final class Forward implements ServerCallHandler<byte[], byte[]> {
    private final MethodDescriptor<byte[], byte[]> method;

    Forward(MethodDescriptor<byte[], byte[]> method) {
      this.method = method;
    }

    @Override
    public ServerCall.Listener<byte[]> startCall(ServerCall<byte[], byte[]> in, Metadata headers) {
      ClientCall<byte[], byte[]> out = backend.newCall(method, CallOptions.DEFAULT);
      Object lock = new Object(); // neither call may be used from two threads at once
      boolean[] headersSent = {false};
      out.start(
          new ClientCall.Listener<>() {
            @Override
            public void onMessage(byte[] message) {
              synchronized (lock) {
                if (!headersSent[0]) {
                  headersSent[0] = true;
                  in.sendHeaders(new Metadata());
                }
                in.sendMessage(message);
                out.request(1);
              }
            }

            @Override
            public void onClose(Status status, Metadata trailers) {
              synchronized (lock) {
                in.close(status, new Metadata());
              }
            }
          },
          new Metadata());
      synchronized (lock) {
        out.request(1);
        in.request(1);
      }
      return new ServerCall.Listener<>() {
        @Override
        public void onMessage(byte[] message) {
          synchronized (lock) {
            out.sendMessage(message);
            in.request(1);
          }
        }

        @Override
        public void onHalfClose() {
          synchronized (lock) {
            out.halfClose();
          }
        }

        @Override
        public void onCancel() {
          synchronized (lock) {
            out.cancel("the proxy's client went away", null);
          }
        }
      };
    }
  }

  @Override
  public void close() {
    server.shutdownNow();
    backend.shutdownNow();
    try {
      server.awaitTermination(5, TimeUnit.SECONDS);
      backend.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }
}
