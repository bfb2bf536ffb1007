package dev.configsync.cache;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.spi.Transport;
import java.io.IOException;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.List;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.stream.Stream;
import net.jqwik.api.Arbitraries;
import net.jqwik.api.Arbitrary;
import net.jqwik.api.Combinators;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.Provide;
import net.jqwik.api.Tuple;

/**
 * Start-up from a damaged {@code config.json.gz}: whatever the file holds (mutated, truncated, with
 * junk after it, random bytes, empty), a real client on a real {@link FileSnapshotStore} either
 * serves the very configuration that was cached, leaving the file as it is, or reports the cache
 * damaged ({@link SyncEvent.CacheDamaged}) and moves the file aside, byte for byte, and starts
 * empty. {@code start()} never throws.
 */
class CachedConfigurationPropertiesTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();
  private static final UUID NODE_ID = UUID.fromString("5f4a2c1e-0000-4000-8000-000000000002");
  private static final ObjectNode TABLE = table();
  private static final byte[] CACHED = HybridProtocol.reconfigure(TABLE, 1_700_000_000.5);

  private static ObjectNode table() {
    ObjectNode t = MAPPER.createObjectNode();
    t.put("_format_version", "3.0");
    t.putArray("services").addObject().put("name", "orders").put("host", "orders.internal");
    t.putArray("routes").addObject().put("name", "r").putArray("paths").add("/orders");
    return t;
  }

  /** Overwrite, insert or delete one byte at a relative position. */
  record Mutation(double at, byte value, int kind) {
    byte[] applyTo(byte[] data) {
      if (data.length == 0) {
        return new byte[] {value};
      }
      int i = (int) Math.min(data.length - 1, Math.floor(at * data.length));
      return switch (kind) {
        case 0 -> {
          byte[] out = data.clone();
          out[i] = value;
          yield out;
        }
        case 1 -> {
          byte[] out = new byte[data.length + 1];
          System.arraycopy(data, 0, out, 0, i);
          out[i] = value;
          System.arraycopy(data, i, out, i + 1, data.length - i);
          yield out;
        }
        default -> {
          byte[] out = new byte[data.length - 1];
          System.arraycopy(data, 0, out, 0, i);
          System.arraycopy(data, i + 1, out, i, data.length - i - 1);
          yield out;
        }
      };
    }
  }

  @Provide
  Arbitrary<byte[]> cacheFiles() {
    Arbitrary<Mutation> mutation =
        Combinators.combine(
                Arbitraries.doubles().between(0, 1),
                Arbitraries.bytes(),
                Arbitraries.integers().between(0, 2))
            .as(Mutation::new);
    Arbitrary<byte[]> mutated =
        mutation
            .list()
            .ofMinSize(1)
            .ofMaxSize(4)
            .map(
                list -> {
                  byte[] bytes = CACHED;
                  for (Mutation m : list) {
                    bytes = m.applyTo(bytes);
                  }
                  return bytes;
                });
    Arbitrary<byte[]> truncated =
        Arbitraries.integers().between(0, CACHED.length - 1).map(n -> Arrays.copyOf(CACHED, n));
    Arbitrary<byte[]> withJunk =
        Arbitraries.bytes()
            .array(byte[].class)
            .ofMinSize(1)
            .ofMaxSize(30)
            .map(
                junk -> {
                  byte[] out = Arrays.copyOf(CACHED, CACHED.length + junk.length);
                  System.arraycopy(junk, 0, out, CACHED.length, junk.length);
                  return out;
                });
    return Arbitraries.frequencyOf(
        Tuple.of(1, Arbitraries.just(CACHED)),
        Tuple.of(5, mutated),
        Tuple.of(2, truncated),
        Tuple.of(1, withJunk),
        Tuple.of(1, Arbitraries.bytes().array(byte[].class).ofMaxSize(300)));
  }

  @Property(tries = 80)
  void startServesTheCachedConfigurationOrMovesTheFileAside(@ForAll("cacheFiles") byte[] file)
      throws IOException {
    Path dir = Files.createTempDirectory("cache-property");
    try {
      Path cache = Files.write(dir.resolve("config.json.gz"), file);
      List<SyncEvent> events = new CopyOnWriteArrayList<>();
      try (ConfigSyncClient client =
          ConfigSyncClient.builder()
              .controlPlane(URI.create("wss://cp.invalid:8005"))
              .transport(new NeverConnects())
              .snapshotStore(FileSnapshotStore.open(dir))
              .nodeId(NODE_ID) // no node.id file to write (and fsync) on every try
              .listenerExecutor(Runnable::run) // start-up's events are in before start() returns
              .onEvent(events::add)
              .build()) {

        client.start();

        if (client.current().isPresent()) {
          ConfigSnapshot served = client.current().get();
          assertThat(served.source()).isEqualTo(SnapshotSource.CACHE);
          assertThat(served.hash()).isEqualTo(ConfigHash.configHash(TABLE));
          assertThat(served.config()).isEqualTo(TABLE);
          assertThat(Files.readAllBytes(cache)).isEqualTo(file);
          assertThat(events).noneMatch(SyncEvent.CacheDamaged.class::isInstance);
        } else {
          SyncEvent.CacheDamaged damaged =
              events.stream()
                  .filter(SyncEvent.CacheDamaged.class::isInstance)
                  .map(SyncEvent.CacheDamaged.class::cast)
                  .findFirst()
                  .orElseThrow(() -> new AssertionError("no CacheDamaged event: " + events));
          assertThat(damaged.reason()).isNotBlank();
          assertThat(damaged.movedTo()).startsWith("config.json.gz.broken-");
          assertThat(cache).doesNotExist();
          assertThat(Files.readAllBytes(dir.resolve(damaged.movedTo()))).isEqualTo(file);
          assertThat(events).anyMatch(SyncEvent.StartedEmpty.class::isInstance);
        }
      }
    } finally {
      try (Stream<Path> files = Files.list(dir)) {
        for (Path f : (Iterable<Path>) files::iterator) {
          Files.delete(f);
        }
      }
      Files.delete(dir);
    }
  }

  /** A control plane that never answers: the property is about start-up alone. */
  private static final class NeverConnects implements Transport {
    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      return new Connection() {
        @Override
        public boolean sendBinary(byte[] payload) {
          return false;
        }

        @Override
        public boolean sendPing(byte[] payload) {
          return false;
        }

        @Override
        public void close(int code, String reason) {}

        @Override
        public void cancel() {}
      };
    }

    @Override
    public void close() {}
  }
}
