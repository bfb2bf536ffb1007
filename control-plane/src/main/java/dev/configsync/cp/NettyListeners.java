package dev.configsync.cp;

import io.netty.bootstrap.ServerBootstrap;
import io.netty.channel.Channel;
import io.netty.channel.ChannelFuture;
import io.netty.channel.ChannelInitializer;
import io.netty.channel.ChannelOption;
import io.netty.channel.EventLoopGroup;
import io.netty.channel.MultiThreadIoEventLoopGroup;
import io.netty.channel.nio.NioIoHandler;
import io.netty.channel.socket.SocketChannel;
import io.netty.channel.socket.nio.NioServerSocketChannel;
import io.netty.handler.codec.http.HttpObjectAggregator;
import io.netty.handler.codec.http.HttpServerCodec;
import io.netty.handler.ssl.SslHandler;
import io.netty.util.concurrent.DefaultThreadFactory;
import io.netty.util.concurrent.ScheduledFuture;
import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Optional;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.ThreadPoolExecutor;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The threads and ports of a {@link ControlPlaneServer}: the Netty event loops ({@code
 * configsync-cp-accept}, {@code configsync-cp-io-*} for data planes, {@code configsync-cp-admin-io}
 * for the admin API, so that an admin answer never waits behind the writes of a fan-out to every
 * node), the data plane port, the admin port, and the two admin executors ({@code
 * configsync-cp-admin} for publishes, {@code configsync-cp-admin-read} for the answers to reads).
 * Housekeeping timers run on an event loop. Bind and close from one thread (the server's start and
 * close); the addresses are readable from any thread.
 */
// Netty reports write and close failures through the pipeline; their futures need no checking.
@SuppressWarnings("FutureReturnValueIgnored")
final class NettyListeners {
  private static final Logger log = LoggerFactory.getLogger(ControlPlaneServer.class);

  private final EventLoopGroup bossGroup;
  private final EventLoopGroup ioGroup;
  private final EventLoopGroup adminGroup;
  private final ExecutorService adminPublishes;
  private final ExecutorService adminReads;
  private volatile @Nullable Channel outletChannel;
  private volatile @Nullable Channel adminChannel;

  /**
   * @param ioThreads event loop threads for connections; 0 for Netty's choice (2 x cores)
   */
  NettyListeners(int ioThreads) {
    this.bossGroup =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("configsync-cp-accept", true), NioIoHandler.newFactory());
    this.ioGroup =
        new MultiThreadIoEventLoopGroup(
            ioThreads,
            new DefaultThreadFactory("configsync-cp-io", true),
            NioIoHandler.newFactory());
    // Admin connections on their own event loop (its thread starts with the admin port): a publish
    // hands the answer back to it while the data plane event loops write the change to every node,
    // and an answer queued behind those writes came tens of milliseconds late with 100 nodes.
    this.adminGroup =
        new MultiThreadIoEventLoopGroup(
            1, new DefaultThreadFactory("configsync-cp-admin-io", true), NioIoHandler.newFactory());
    // One publish at a time, and a short queue: each waiting PUT holds its body in memory.
    this.adminPublishes =
        new ThreadPoolExecutor(
            1,
            1,
            0,
            TimeUnit.MILLISECONDS,
            new ArrayBlockingQueue<>(4),
            r -> {
              Thread t = new Thread(r, "configsync-cp-admin");
              t.setDaemon(true);
              return t;
            });
    // Admin GETs, off the event loops: two threads, so that a GET /status does not wait for a large
    // GET /config; they end when idle.
    ThreadPoolExecutor reads =
        new ThreadPoolExecutor(
            2,
            2,
            30,
            TimeUnit.SECONDS,
            new ArrayBlockingQueue<>(64),
            new DefaultThreadFactory("configsync-cp-admin-read", true));
    reads.allowCoreThreadTimeOut(true);
    this.adminReads = reads;
  }

  /** Runs admin publishes, one at a time. */
  Executor adminPublishes() {
    return adminPublishes;
  }

  /** Builds the answers to admin reads. */
  Executor adminReads() {
    return adminReads;
  }

  /**
   * Binds the data plane port: TLS (material read per connection from {@code tls}, so rotated
   * certificates apply to the next one), HTTP, then the {@link OutletHttpHandler}.
   */
  void bindOutlet(
      InetSocketAddress address,
      TlsReloader tls,
      Duration handshakeTimeout,
      Outlet outlet,
      UsageIngest usage)
      throws IOException {
    ChannelFuture bind =
        new ServerBootstrap()
            .group(bossGroup, ioGroup)
            .channel(NioServerSocketChannel.class)
            .option(ChannelOption.SO_BACKLOG, 1024)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    SslHandler ssl = tls.current().sslContext().newHandler(ch.alloc());
                    ssl.setHandshakeTimeoutMillis(handshakeTimeout.toMillis());
                    ch.pipeline()
                        .addLast("tls", ssl)
                        .addLast("http", new HttpServerCodec(4096, 8192, 8192))
                        .addLast("aggregator", new HttpObjectAggregator(8192))
                        .addLast("outlet-http", new OutletHttpHandler(outlet, usage));
                  }
                })
            .bind(address)
            .awaitUninterruptibly();
    outletChannel = bound(bind, address, "data planes");
  }

  /** Binds the admin port; {@code admin} sets up each connection. */
  void bindAdmin(InetSocketAddress address, AdminConnections admin) throws IOException {
    ChannelFuture bind =
        new ServerBootstrap()
            .group(bossGroup, adminGroup)
            .channel(NioServerSocketChannel.class)
            .childOption(ChannelOption.TCP_NODELAY, true)
            .childHandler(
                new ChannelInitializer<SocketChannel>() {
                  @Override
                  protected void initChannel(SocketChannel ch) {
                    admin.initChannel(ch);
                  }
                })
            .bind(address)
            .awaitUninterruptibly();
    adminChannel = bound(bind, address, "the admin API");
  }

  /** The bound channel, or an IOException that names the address and what it was for. */
  private static Channel bound(ChannelFuture bind, InetSocketAddress address, String what)
      throws IOException {
    if (!bind.isSuccess()) {
      Throwable cause = bind.cause();
      throw new IOException(
          "cannot listen on "
              + hostPort(address)
              + " for "
              + what
              + ": "
              + (cause == null ? "unknown reason" : cause.getMessage()),
          cause);
    }
    return bind.channel();
  }

  /** Runs {@code task} every {@code period} on an event loop, delays between runs fixed. */
  ScheduledFuture<?> withFixedDelay(Runnable task, Duration period) {
    return ioGroup
        .next()
        .scheduleWithFixedDelay(task, period.toMillis(), period.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Runs {@code task} every {@code periodMillis} on an event loop, at a fixed rate. */
  ScheduledFuture<?> atFixedRate(Runnable task, long periodMillis) {
    return ioGroup
        .next()
        .scheduleAtFixedRate(task, periodMillis, periodMillis, TimeUnit.MILLISECONDS);
  }

  /** The data plane port's address (with the actual port when 0 was asked for). */
  InetSocketAddress address() {
    Channel c = outletChannel;
    if (c == null) {
      throw new IllegalStateException("not started");
    }
    return (InetSocketAddress) c.localAddress();
  }

  /** The admin port's address, or empty when it is not bound. */
  Optional<InetSocketAddress> adminAddress() {
    Channel c = adminChannel;
    return c == null ? Optional.empty() : Optional.of((InetSocketAddress) c.localAddress());
  }

  /**
   * Stops accepting, then stops the event loops (closing every connection still open) and the admin
   * executors, waiting a bounded time for each.
   */
  void close() {
    for (Channel c : new Channel[] {outletChannel, adminChannel}) {
      if (c != null) {
        c.close().syncUninterruptibly();
      }
    }
    ioGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    adminGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    bossGroup.shutdownGracefully(0, 2, TimeUnit.SECONDS).syncUninterruptibly();
    adminPublishes.shutdownNow();
    adminReads.shutdownNow();
    try {
      if (!adminPublishes.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("An admin publish did not finish within 5 s of close()");
      }
      if (!adminReads.awaitTermination(5, TimeUnit.SECONDS)) {
        log.warn("An admin read did not finish within 5 s of close()");
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
  }

  static String hostPort(InetSocketAddress a) {
    return OutletHttpHandler.hostAddress(a) + ":" + a.getPort();
  }
}
