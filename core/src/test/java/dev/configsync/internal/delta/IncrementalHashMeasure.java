package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.ArrayNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigHashes;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.security.MessageDigest;
import java.util.List;
import java.util.Map;
import java.util.Set;

/**
 * A rough measurement, not a test: applying a one-entity change set to a configuration of about 16
 * MB (JSON) with its incremental hash, against {@link ConfigHash#configHashes} of the whole and the
 * MD5 of the whole JSON. Run with {@code java -cp <test classpath> ...IncrementalHashMeasure [MB]}.
 */
final class IncrementalHashMeasure {
  private IncrementalHashMeasure() {}

  public static void main(String[] args) throws Exception {
    int megabytes = args.length > 0 ? Integer.parseInt(args[0]) : 16;
    JsonNodeFactory nodes = JsonNodeFactory.instance;
    ObjectNode table = nodes.objectNode();
    table.put("_format_version", "3.0");
    ArrayNode services = table.putArray("services");
    ArrayNode routes = table.putArray("routes");
    ArrayNode consumers = table.putArray("consumers");
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
      if (i % 3 == 0) {
        consumers
            .addObject()
            .put("id", String.format("00000000-0000-4000-a000-%012d", i))
            .put("username", "user-" + i)
            .put("custom_id", "c" + i);
      }
    }
    byte[] json = Json.WRITER.writeValueAsBytes(table);
    JsonNode frozen = Json.readFrozen(json);
    System.out.printf(
        "configuration: %.1f MB JSON, %d services, %d routes%n", json.length / 1048576.0, n, n);

    IndexedConfig base = IndexedConfig.of(frozen);
    System.out.printf(
        "IndexedConfig.of (once per full frame): %.1f ms%n", best(() -> IndexedConfig.of(frozen)));

    ObjectNode changed = ((ObjectNode) frozen.get("routes").get(n / 2)).deepCopy();
    changed.put("regex_priority", 7);
    ChangeSet change =
        new ChangeSet(
            Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(changed))),
            Map.of(),
            Set.of());
    ConfigHashes expected = base.apply(change).config().hashes();

    double md5 = best(() -> MessageDigest.getInstance("MD5").digest(json));
    double full = best(() -> ConfigHash.configHashes(frozen));
    double fullOneThread = best(() -> ConfigHash.configHashes(frozen, Runnable::run));
    double apply = best(() -> base.apply(change, expected));
    for (int at : new int[] {0, n - 1}) {
      ObjectNode other = ((ObjectNode) frozen.get("routes").get(at)).deepCopy();
      other.put("regex_priority", 7);
      ChangeSet otherChange =
          new ChangeSet(
              Map.of("routes", ChangeSet.CollectionDelta.upserting("id", List.of(other))),
              Map.of(),
              Set.of());
      System.out.printf(
          "apply one-entity change + hash, route %d of %d: %.1f ms%n",
          at, n, best(() -> base.apply(otherChange)));
    }
    System.out.printf("MD5 of the JSON bytes:             %.1f ms%n", md5);
    System.out.printf(
        "ConfigHash.configHashes (parallel): %.1f ms (%.2f x MD5)%n", full, full / md5);
    System.out.printf(
        "ConfigHash.configHashes (1 thread): %.1f ms (%.2f x MD5)%n",
        fullOneThread, fullOneThread / md5);
    System.out.printf(
        "apply one-entity change + hash:     %.1f ms (%.2f x MD5, %.2f x full hash on 1 thread)%n",
        apply, apply / md5, apply / fullOneThread);
  }

  interface Work {
    Object run() throws Exception;
  }

  /**
   * The least CPU time of this thread over several runs, in milliseconds: on a shared machine, wall
   * time mostly measures the neighbours.
   */
  private static double best(Work work) throws Exception {
    java.lang.management.ThreadMXBean threads =
        java.lang.management.ManagementFactory.getThreadMXBean();
    double best = Double.MAX_VALUE;
    for (int i = 0; i < 15; i++) {
      long t = threads.getCurrentThreadCpuTime();
      work.run();
      best = Math.min(best, (threads.getCurrentThreadCpuTime() - t) / 1e6);
    }
    return best;
  }
}
