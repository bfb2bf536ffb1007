package dev.configsync.internal;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.node.BinaryNode;
import com.fasterxml.jackson.databind.node.JsonNodeFactory;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigHashes;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.RejectedExecutionException;
import java.util.concurrent.atomic.AtomicInteger;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.IntRange;
import org.junit.jupiter.api.Test;

/** The parts of a configuration hash computed on several threads give the one-thread result. */
class ConfigHashParallelTest {
  private static final JsonNodeFactory NODES = JsonNodeFactory.instance;

  @Property(tries = 50)
  void helpersChangeNothingButTheThreads(
      @ForAll @IntRange(min = 0, max = 40) int routes,
      @ForAll @IntRange(min = 0, max = 40) int services,
      @ForAll @IntRange(min = 0, max = 40) int consumers,
      @ForAll boolean upstreams) {
    ObjectNode table = NODES.objectNode();
    table.put("_format_version", "3.0");
    fill(table.putArray("routes"), routes, "route");
    fill(table.putArray("services"), services, "service");
    fill(table.putArray("consumers"), consumers, "consumer");
    if (upstreams) {
      fill(table.putArray("upstreams"), 3, "upstream");
      fill(table.putArray("targets"), 7, "target");
    }
    ConfigHashes sequential = ConfigHash.configHashes(table, Runnable::run);
    ExecutorService pool = Executors.newFixedThreadPool(5);
    try {
      assertThat(ConfigHash.configHashes(table, pool)).isEqualTo(sequential);
    } finally {
      pool.shutdownNow();
    }
    assertThat(ConfigHash.configHashes(table)).isEqualTo(sequential);
  }

  @Test
  void helpersDoShareTheWork() {
    ObjectNode table = NODES.objectNode();
    for (String key : new String[] {"routes", "services", "plugins", "upstreams", "targets"}) {
      fill(table.putArray(key), 2000, key);
    }
    AtomicInteger offered = new AtomicInteger();
    ExecutorService pool = Executors.newFixedThreadPool(5);
    try {
      ConfigHashes hashes =
          ConfigHash.configHashes(
              table,
              task -> {
                offered.incrementAndGet();
                pool.execute(task);
              });
      assertThat(hashes).isEqualTo(ConfigHash.configHashes(table, Runnable::run));
    } finally {
      pool.shutdownNow();
    }
    assertThat(offered.get())
        .isEqualTo(Math.min(5, Runtime.getRuntime().availableProcessors() - 1));
  }

  @Test
  void aRefusingExecutorLeavesTheWorkToTheCaller() {
    ObjectNode table = NODES.objectNode();
    fill(table.putArray("routes"), 10, "route");
    fill(table.putArray("services"), 10, "service");
    ConfigHashes hashes =
        ConfigHash.configHashes(
            table,
            task -> {
              throw new RejectedExecutionException("busy");
            });
    assertThat(hashes).isEqualTo(ConfigHash.configHashes(table, Runnable::run));
  }

  @Test
  void aPartThatCannotBeHashedFailsTheWholeHashWhicheverThreadHashedIt() {
    ObjectNode table = NODES.objectNode();
    fill(table.putArray("services"), 10, "service");
    table.putArray("routes").add(BinaryNode.valueOf(new byte[] {1}));
    ExecutorService pool = Executors.newFixedThreadPool(5);
    try {
      assertThatThrownBy(() -> ConfigHash.configHashes(table, pool))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("BINARY");
    } finally {
      pool.shutdownNow();
    }
  }

  private static void fill(
      com.fasterxml.jackson.databind.node.ArrayNode array, int n, String kind) {
    for (int i = 0; i < n; i++) {
      ObjectNode e = array.addObject();
      e.put("id", kind + "-" + i);
      e.put("name", kind + " " + i);
      e.put("weight", i * 1.5);
      e.putArray("tags").add("t" + (i % 3)).add(i % 2 == 0);
      JsonNode nested = NODES.objectNode().put("z", i).put("a", "x");
      e.set("config", nested);
    }
  }
}
