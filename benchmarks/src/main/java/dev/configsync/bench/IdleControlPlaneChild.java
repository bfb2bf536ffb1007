package dev.configsync.bench;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.PublishResult;
import dev.configsync.cp.ServerTls;
import io.netty.buffer.ByteBufAllocator;
import io.netty.buffer.ByteBufAllocatorMetricProvider;
import java.io.BufferedReader;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.lang.management.BufferPoolMXBean;
import java.lang.management.ManagementFactory;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The control plane of the idle-connection measurement, in its own JVM so that the data planes'
 * memory is not counted. Started by {@link IdleConnections} with the directory holding {@code
 * cp.crt}, {@code cp.key} and {@code ca.crt}. Prints {@code ready <port> <hash>} once it listens
 * with a 64 KB configuration published, then answers one line per command on stdin:
 *
 * <ul>
 *   <li>{@code heap}: {@code heap <used bytes after GC> <netty used heap> <netty used direct> <JDK
 *       direct buffers>}
 *   <li>{@code nodes <hash>}: {@code nodes <connected nodes reporting hash>}
 *   <li>{@code quit}: closes the control plane and exits
 * </ul>
 */
public final class IdleControlPlaneChild {
  private IdleControlPlaneChild() {}

  /** Entry point; see the class description. */
  public static void main(String[] args) throws Exception {
    Path dir = Path.of(args[0]);
    PrintStream out = new PrintStream(System.out, true, StandardCharsets.UTF_8);
    try (ControlPlaneServer cp =
        ControlPlaneServer.builder()
            .tls(ServerTls.pki(dir.resolve("cp.crt"), dir.resolve("cp.key"), dir.resolve("ca.crt")))
            .listen(new InetSocketAddress(java.net.InetAddress.getLoopbackAddress(), 0))
            .configStore(new InMemoryConfigStore())
            // Idle means idle: nodes send no pings after the first, so none may be dropped.
            .heartbeatInterval(Duration.ofHours(1))
            .tlsReloadInterval(Duration.ZERO)
            .start()) {
      PublishResult published = cp.publish(CpRig.config(7, 64 * 1024));
      out.println("ready " + cp.address().getPort() + " " + published.hash());
      BufferedReader in =
          new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
      for (String line = in.readLine(); line != null; line = in.readLine()) {
        if (line.equals("heap")) {
          out.println("heap " + heapAfterGc() + " " + nettyMemory());
        } else if (line.startsWith("nodes ")) {
          out.println("nodes " + CpRig.nodesOn(cp, line.substring(6).trim()));
        } else if (line.equals("quit")) {
          break;
        } else {
          out.println("error unknown command: " + line);
        }
      }
    }
    out.println("bye");
  }

  static long heapAfterGc() throws InterruptedException {
    long used = Long.MAX_VALUE;
    for (int i = 0; i < 5; i++) {
      System.gc();
      Thread.sleep(100);
      used = Math.min(used, ManagementFactory.getMemoryMXBean().getHeapMemoryUsage().getUsed());
    }
    return used;
  }

  private static String nettyMemory() {
    long nettyHeap = -1;
    long nettyDirect = -1;
    if (ByteBufAllocator.DEFAULT instanceof ByteBufAllocatorMetricProvider p) {
      nettyHeap = p.metric().usedHeapMemory();
      nettyDirect = p.metric().usedDirectMemory();
    }
    long jdkDirect = 0;
    for (BufferPoolMXBean pool : ManagementFactory.getPlatformMXBeans(BufferPoolMXBean.class)) {
      if (pool.getName().equals("direct")) {
        jdkDirect = pool.getMemoryUsed();
      }
    }
    return nettyHeap + " " + nettyDirect + " " + jdkDirect;
  }
}
