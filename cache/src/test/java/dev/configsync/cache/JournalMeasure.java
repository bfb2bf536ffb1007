package dev.configsync.cache;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import dev.configsync.internal.delta.ChangeSet;
import dev.configsync.internal.delta.DeltaFrame;
import dev.configsync.internal.delta.IndexedConfig;
import dev.configsync.spi.Transport;
import java.lang.management.ManagementFactory;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.security.MessageDigest;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.concurrent.atomic.AtomicReference;

/**
 * A rough measurement, not a test: a one-entity {@code reconfigure_delta} applied by a real client
 * with a {@link FileSnapshotStore}, from the frame's arrival ({@code Transport.Listener.onBinary})
 * to the snapshot listener, with the cache's journal and with it off (every change written whole,
 * as before the journal), against the MD5 of the whole configuration's JSON. Also the bytes the
 * JVM's threads allocated per change. Run with {@code java -cp <test classpath>
 * dev.configsync.cache.JournalMeasure [MB] [changes]}.
 */
final class JournalMeasure {
  private JournalMeasure() {}

  public static void main(String[] args) throws Exception {
    int megabytes = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    int changes = args.length > 1 ? Integer.parseInt(args[1]) : 30;
    JsonNode table = table(megabytes);
    byte[] json = Json.WRITER.writeValueAsBytes(table);
    byte[] whole = HybridProtocol.reconfigure(table, 1.0);
    List<byte[]> frames = chain(table, changes);
    System.out.printf(
        "configuration: %.1f MB JSON, %.1f MB gzip; %d one-entity changes of about %d bytes%n",
        json.length / 1048576.0, whole.length / 1048576.0, changes, frames.get(0).length);
    double md5 = Double.MAX_VALUE;
    for (int i = 0; i < 10; i++) {
      long t = System.nanoTime();
      MessageDigest.getInstance("MD5").digest(json);
      md5 = Math.min(md5, (System.nanoTime() - t) / 1e6);
    }
    System.out.printf("MD5 of the whole JSON: %.1f ms%n", md5);
    for (int round = 0; round < 2; round++) {
      for (boolean journal : new boolean[] {true, false}) {
        run(journal, whole, frames, md5, round == 1);
      }
    }
  }

  private static void run(
      boolean journal, byte[] whole, List<byte[]> frames, double md5, boolean print)
      throws Exception {
    Path dir = Files.createTempDirectory("journal-measure");
    AtomicReference<String> running = new AtomicReference<>("");
    AtomicReference<Transport.Listener> link = new AtomicReference<>();
    Transport transport =
        new Transport() {
          @Override
          public Connection connect(ConnectRequest request, Listener listener) {
            link.set(listener);
            return new Connection() {
              @Override
              public boolean sendBinary(byte[] payload) {
                return true;
              }

              @Override
              public boolean sendPing(byte[] payload) {
                return true;
              }

              @Override
              public void close(int code, String reason) {}

              @Override
              public void cancel() {}
            };
          }

          @Override
          public void close() {}
        };
    try (ConfigSyncClient client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create("wss://cp.invalid:8005"))
            .transport(transport)
            .snapshotStore(FileSnapshotStore.open(dir))
            .cacheJournal(journal ? 64 : 0, 0.25)
            .listenerExecutor(Runnable::run)
            .onSnapshot((ConfigSnapshot s) -> running.set(s.hash()))
            .build()) {
      client.start();
      while (link.get() == null) {
        Thread.onSpinWait();
      }
      link.get().onOpen();
      deliver(link.get(), whole, running);
      double[] millis = new double[frames.size()];
      double[] megabytes = new double[frames.size()];
      for (int i = 0; i < frames.size(); i++) {
        long allocated = allocated();
        long t = System.nanoTime();
        deliver(link.get(), frames.get(i), running);
        millis[i] = (System.nanoTime() - t) / 1e6;
        megabytes[i] = (allocated() - allocated) / 1048576.0;
      }
      double first = millis[0];
      Arrays.sort(millis);
      Arrays.sort(megabytes);
      if (print) {
        System.out.printf(
            "%-36s p50 %6.1f ms (%5.2f x MD5), p90 %6.1f ms, max %6.1f ms, first %6.1f ms;"
                + " allocated per change: p50 %5.2f MB, max %5.1f MB%n",
            journal ? "journal (compaction every 64):" : "journal off (whole write per change):",
            millis[millis.length / 2],
            millis[millis.length / 2] / md5,
            millis[millis.length * 9 / 10],
            millis[millis.length - 1],
            first,
            megabytes[megabytes.length / 2],
            megabytes[megabytes.length - 1]);
      }
    }
    try (var files = Files.list(dir)) {
      for (Path f : files.toList()) {
        Files.delete(f);
      }
    }
    Files.delete(dir);
  }

  private static void deliver(
      Transport.Listener listener, byte[] frame, AtomicReference<String> running) throws Exception {
    String target =
        Json.readFrozen(dev.configsync.internal.Gzip.decompress(frame, 1L << 30))
            .path("config_hash")
            .asText();
    long t = System.nanoTime();
    listener.onBinary(frame);
    while (!running.get().equals(target)) {
      Thread.onSpinWait();
      if (System.nanoTime() - t > 60_000_000_000L) {
        throw new IllegalStateException("not applied in 60 s: " + target);
      }
    }
  }

  private static long allocated() {
    com.sun.management.ThreadMXBean threads =
        (com.sun.management.ThreadMXBean) ManagementFactory.getThreadMXBean();
    long[] ids = threads.getAllThreadIds();
    long sum = 0;
    for (long b : threads.getThreadAllocatedBytes(ids)) {
      sum += Math.max(0, b);
    }
    return sum;
  }

  private static List<byte[]> chain(JsonNode table, int count) {
    List<byte[]> frames = new ArrayList<>();
    IndexedConfig at = IndexedConfig.of(table);
    int n = table.get("routes").size();
    for (int i = 0; i < count; i++) {
      ObjectNode route = ((ObjectNode) at.table().get("routes").get((i * 7919) % n)).deepCopy();
      route.put("regex_priority", i + 1);
      ChangeSet change =
          new ChangeSet(
              Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(route))),
              Map.of(),
              Set.of());
      IndexedConfig next = at.apply(change).config();
      frames.add(
          new DeltaFrame(at.hashes().config(), next.hashes(), i + 1, 2.0 + i, change).encode());
      at = next;
    }
    return frames;
  }

  private static JsonNode table(int megabytes) throws Exception {
    ObjectNode table = Json.WRITER.createObjectNode();
    table.put("_format_version", "3.0");
    ArrayNode services = table.putArray("services");
    ArrayNode routes = table.putArray("routes");
    int n = megabytes * 1024 * 1024 / 430;
    for (int i = 0; i < n; i++) {
      services
          .addObject()
          .put("id", String.format("00000000-0000-4000-8000-%012d", i))
          .put("name", "service-" + i)
          .put("host", "backend-" + i + ".internal.example.com")
          .put("port", 8080)
          .put("protocol", "http")
          .put("retries", 5);
      ObjectNode r = routes.addObject();
      r.put("id", String.format("00000000-0000-4000-9000-%012d", i)).put("name", "route-" + i);
      r.putArray("paths").add("/api/v1/service-" + i).add("/api/v2/service-" + i);
      r.putArray("methods").add("GET").add("POST");
      r.putObject("service").put("id", String.format("00000000-0000-4000-8000-%012d", i));
      r.put("strip_path", true).put("preserve_host", false).put("regex_priority", 0);
    }
    JsonNode frozen = Json.readFrozen(Json.WRITER.writeValueAsBytes(table));
    ConfigHash.configHash(frozen);
    return frozen;
  }
}
