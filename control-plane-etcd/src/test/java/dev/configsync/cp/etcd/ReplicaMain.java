package dev.configsync.cp.etcd;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.ServerTls;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Arrays;
import java.util.List;

/**
 * A control plane replica in its own JVM, for tests that crash one (SIGKILL: no clean close, its
 * etcd lease is left to expire). Arguments: cert, key, ca (PEM files), prefix, replica name,
 * heartbeat millis, lease TTL seconds, then the etcd endpoints. Prints {@code READY <outlet port>
 * <admin port>} once it serves.
 */
public final class ReplicaMain {
  private ReplicaMain() {}

  public static void main(String[] args) throws Exception {
    List<URI> endpoints = Arrays.stream(args).skip(7).map(URI::create).toList();
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(args[3])
            .replicaName(args[4])
            .leaseTtl(Duration.ofSeconds(Long.parseLong(args[6])))
            .flushInterval(Duration.ofMillis(100))
            .unavailableAfter(Duration.ofSeconds(3))
            .build();
    ControlPlaneServer cp =
        ControlPlaneServer.builder()
            .tls(ServerTls.pki(Path.of(args[0]), Path.of(args[1]), Path.of(args[2])))
            .listen("127.0.0.1", 0)
            .admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
            .heartbeatInterval(Duration.ofMillis(Long.parseLong(args[5])))
            .ioThreads(2)
            .configStore(store)
            .fleetDirectory(store)
            .start();
    System.out.println(
        "READY " + cp.address().getPort() + " " + cp.adminAddress().orElseThrow().getPort());
    System.out.flush();
    Thread.sleep(Long.MAX_VALUE); // until killed
  }
}
