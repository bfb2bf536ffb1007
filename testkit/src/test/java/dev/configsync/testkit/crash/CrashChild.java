package dev.configsync.testkit.crash;

import static java.nio.charset.StandardCharsets.UTF_8;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.io.FileDescriptor;
import java.io.FileOutputStream;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Path;
import java.time.Duration;

/**
 * The data plane that {@link CrashSafetyTest} kills: a real {@link ConfigSyncClient} with a real
 * {@link FileSnapshotStore}, dialling the test's control plane over mutual TLS.
 *
 * <p>Changes ({@code reconfigure_delta}) go to the store's journal, compacted every 8 changes.
 *
 * <p>Arguments: control plane URI, directory holding {@code dp.crt}, {@code dp.key} and {@code
 * ca.crt}, cache directory. It reports on stdout, one line per fact, each line written with a
 * single {@code write} call (so a kill never leaves half a line):
 *
 * <ul>
 *   <li>{@code OPENED} once the store is open (stale temporary files are gone by then);
 *   <li>{@code APPLIED <hash> <source>} for each {@link SyncEvent.SnapshotApplied}: what the node
 *       announces as applied;
 *   <li>{@code WRITTEN <hash>}, {@code WRITE_FAILED <hash> <reason>}, {@code DAMAGED <reason>},
 *       {@code EMPTY}, {@code STOPPED} for the events of those names.
 * </ul>
 *
 * It runs until its stdin ends, then closes the client and exits with status 0.
 */
public final class CrashChild {
  private static final FileOutputStream STDOUT = new FileOutputStream(FileDescriptor.out);

  private CrashChild() {}

  public static void main(String[] args) throws IOException {
    if (args.length != 3) {
      System.err.println("usage: CrashChild <control plane uri> <pem dir> <cache dir>");
      System.exit(2);
    }
    URI controlPlane = URI.create(args[0]);
    Path pem = Path.of(args[1]);
    FileSnapshotStore store = FileSnapshotStore.open(Path.of(args[2]));
    report("OPENED");
    ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(controlPlane)
            .transport(
                OkHttpTransport.create(
                    TlsConfig.pki(
                        pem.resolve("dp.crt"), pem.resolve("dp.key"), pem.resolve("ca.crt"))))
            .snapshotStore(store)
            .heartbeatInterval(Duration.ofSeconds(2))
            .reconnectDelay(Duration.ofMillis(50), Duration.ofMillis(100))
            .handshakeTimeout(Duration.ofSeconds(30))
            // Long enough never to be reached on a loaded machine: past it a configuration is
            // announced before it is cached, which is a documented exception, not what this child
            // is for.
            .cacheWriteTimeout(Duration.ofMinutes(5))
            // A short journal, so that kills land in its compactions too.
            .cacheJournal(8, 0.25)
            .onEvent(CrashChild::report)
            .build();
    client.start();
    while (System.in.read() >= 0) {
      // runs until the parent closes stdin
    }
    client.close();
  }

  private static void report(SyncEvent event) {
    if (event instanceof SyncEvent.SnapshotApplied e) {
      report("APPLIED " + e.hash() + " " + e.source());
    } else if (event instanceof SyncEvent.CacheWritten e) {
      report("WRITTEN " + e.hash());
    } else if (event instanceof SyncEvent.CacheWriteFailed e) {
      report("WRITE_FAILED " + e.hash() + " " + e.reason());
    } else if (event instanceof SyncEvent.CacheDamaged e) {
      report("DAMAGED " + e.reason());
    } else if (event instanceof SyncEvent.StartedEmpty) {
      report("EMPTY");
    } else if (event instanceof SyncEvent.Stopped) {
      report("STOPPED");
    }
  }

  private static void report(String line) {
    byte[] bytes = (line.replace('\n', ' ') + "\n").getBytes(UTF_8);
    synchronized (STDOUT) {
      try {
        STDOUT.write(bytes); // one write(2): the line reaches the pipe whole or not at all
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }
}
