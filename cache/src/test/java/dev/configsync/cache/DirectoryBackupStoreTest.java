package dev.configsync.cache;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.HybridProtocol;
import java.io.IOException;
import java.io.RandomAccessFile;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.Future;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class DirectoryBackupStoreTest {
  private static final ObjectMapper MAPPER = new ObjectMapper();

  @TempDir Path dir;

  @Test
  void putThenGetReturnsIdenticalBytesAtTheDocumentedPath() throws IOException {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir);
    byte[] payload = payload("orders");

    store.put("3.9", payload);

    assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(payload));
    Path file = dir.toAbsolutePath().resolve("3.9").resolve("config.json.gz");
    assertThat(store.file("3.9")).isEqualTo(file);
    assertThat(Files.readAllBytes(file)).isEqualTo(payload);
    assertThat(filesIn(dir.resolve("3.9"))).containsExactly("config.json.gz"); // no temp left
  }

  @Test
  void getOfAVersionWithNoCopyIsEmpty() throws IOException {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir);
    store.put("3.9", payload("orders"));

    assertThat(store.get("3.10")).isEmpty();
    assertThat(store.get("4.0")).isEmpty();
  }

  @Test
  void overwriteReturnsTheLatestAndKeepsVersionsApart() throws IOException {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir);
    byte[] old = payload("old");
    byte[] latest = payload("latest");
    byte[] other = payload("other-version");

    store.put("3.9", old);
    store.put("3.10", other);
    store.put("3.9", latest);

    assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(latest));
    assertThat(store.get("3.10")).hasValueSatisfying(b -> assertThat(b).isEqualTo(other));
  }

  @Test
  void twoNodesOnOneRootExportAndImport() throws IOException {
    DirectoryBackupStore nodeA = DirectoryBackupStore.open(dir);
    DirectoryBackupStore nodeB = DirectoryBackupStore.open(dir);
    byte[] first = payload("first");
    byte[] second = payload("second");

    nodeA.put("3.9", first);
    assertThat(nodeB.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(first));

    nodeB.put("3.9", second);
    assertThat(nodeA.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(second));
    assertThat(nodeA.describe()).isEqualTo(nodeB.describe());
  }

  @Test
  void concurrentExportsFromTwoNodesNeverShowAPartialCopy() throws Exception {
    DirectoryBackupStore nodeA = DirectoryBackupStore.open(dir);
    DirectoryBackupStore nodeB = DirectoryBackupStore.open(dir);
    DirectoryBackupStore reader = DirectoryBackupStore.open(dir);
    byte[] a = payload("a".repeat(5_000));
    byte[] b = payload("b".repeat(20_000));
    nodeA.put("3.9", a);
    ExecutorService pool = Executors.newFixedThreadPool(2);
    try {
      List<Future<?>> writers = new ArrayList<>();
      writers.add(pool.submit(() -> putMany(nodeA, a)));
      writers.add(pool.submit(() -> putMany(nodeB, b)));
      int reads = 0;
      while (reads < 200 || !writers.stream().allMatch(Future::isDone)) {
        byte[] seen = reader.get("3.9").orElseThrow();
        assertThat(seen.length == a.length || seen.length == b.length).isTrue();
        assertThat(seen).isIn(a, b);
        reads++;
      }
      for (Future<?> writer : writers) {
        writer.get(); // rethrows a writer's failure
      }
    } finally {
      pool.shutdownNow();
    }
    assertThat(filesIn(dir.resolve("3.9"))).containsExactly("config.json.gz");
  }

  @Test
  void aFailedPutLeavesThePreviousCopyAndNoTemporaryFile() throws IOException {
    DirectoryBackupStore store =
        DirectoryBackupStore.open(
            dir,
            temp -> {
              throw new IOException("disk full (simulated)");
            },
            null);
    byte[] previous = payload("previous");
    Files.createDirectories(dir.resolve("3.9"));
    Files.write(dir.resolve("3.9/config.json.gz"), previous);

    assertThatThrownBy(() -> store.put("3.9", payload("next")))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(store.file("3.9").toString())
        .hasMessageContaining("disk full (simulated)");

    assertThat(store.get("3.9")).hasValueSatisfying(b -> assertThat(b).isEqualTo(previous));
    assertThat(filesIn(dir.resolve("3.9"))).containsExactly("config.json.gz");
  }

  @ParameterizedTest
  @ValueSource(
      strings = {
        "",
        ".",
        "..",
        "../3.9",
        "3.9/../../etc",
        "/etc",
        "3..9",
        "3.9.",
        ".3.9",
        "3.9-beta",
        "3.9 ",
        "a.b",
        "٣.٩", // Arabic-Indic digits are digits to Character.isDigit, not to this store
        "3\u00009",
        "1.2.3.4.5"
      })
  void versionsThatAreNotDigitsAndDotsAreRefused(String version) throws IOException {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir.resolve("root"));

    assertThatThrownBy(() -> store.put(version, payload("x")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("digits separated by dots");
    assertThatThrownBy(() -> store.get(version)).isInstanceOf(IllegalArgumentException.class);
    try (Stream<Path> all = Files.walk(dir)) {
      assertThat(all.filter(Files::isRegularFile)).isEmpty(); // nothing written anywhere
    }
  }

  @Test
  void aCopyOverTheLimitIsRefusedWithAClearMessage() throws IOException {
    DirectoryBackupStore store = DirectoryBackupStore.open(dir);
    Path file = store.file("3.9");
    Files.createDirectories(file.getParent());
    try (RandomAccessFile sparse = new RandomAccessFile(file.toFile(), "rw")) {
      sparse.setLength(DirectoryBackupStore.MAX_BYTES + 1); // sparse: takes no disk space
    }

    assertThatThrownBy(() -> store.get("3.9"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(file.toString())
        .hasMessageContaining(String.valueOf(DirectoryBackupStore.MAX_BYTES + 1))
        .hasMessageContaining("limit of " + DirectoryBackupStore.MAX_BYTES);
  }

  @Test
  void anUnreadableCopyIsReportedWithItsPath() throws IOException {
    assumePosix();
    DirectoryBackupStore store = DirectoryBackupStore.open(dir);
    store.put("3.9", payload("x"));
    Files.setPosixFilePermissions(store.file("3.9"), PosixFilePermissions.fromString("---------"));
    assumeTrue(!Files.isReadable(store.file("3.9")), "running as a user who reads anything");

    assertThatThrownBy(() -> store.get("3.9"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("Cannot read the backup copy " + store.file("3.9"));
  }

  @Test
  void copiesAreNotWorldReadable() throws IOException {
    assumePosix();
    DirectoryBackupStore store = DirectoryBackupStore.open(dir.resolve("root"));

    store.put("3.9", payload("x"));

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(store.file("3.9"))))
        .endsWith("---");
    assertThat(
            PosixFilePermissions.toString(
                Files.getPosixFilePermissions(store.file("3.9").getParent())))
        .endsWith("---");
  }

  @Test
  void openCreatesAMissingRootAndDescribesItsAbsolutePath() throws IOException {
    Path root = dir.resolve("a/b/backups");

    DirectoryBackupStore store = DirectoryBackupStore.open(root);

    assertThat(root).isDirectory();
    assertThat(store.describe()).isEqualTo(root.toAbsolutePath().toString());
  }

  @Test
  void openRefusesAFile() throws IOException {
    Path file = Files.writeString(dir.resolve("not-a-directory"), "x");

    assertThatThrownBy(() -> DirectoryBackupStore.open(file))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("not a directory");
  }

  @Test
  void openDeletesOnlyStaleTemporaryFiles() throws IOException {
    Path version = Files.createDirectories(dir.resolve("3.9"));
    Path stale = Files.writeString(version.resolve(".config.json.gz.00ff00ff00ff00ff.tmp"), "x");
    Files.setLastModifiedTime(stale, FileTime.from(Instant.now().minus(Duration.ofHours(2))));
    Path fresh = Files.writeString(version.resolve(".config.json.gz.0123456789abcdef.tmp"), "y");
    Path other = Files.writeString(version.resolve("notes.txt"), "z");
    Files.setLastModifiedTime(other, FileTime.from(Instant.now().minus(Duration.ofHours(2))));

    DirectoryBackupStore.open(dir);

    assertThat(stale).doesNotExist();
    assertThat(fresh).exists(); // perhaps another node's write under way
    assertThat(other).exists();
  }

  private static void putMany(DirectoryBackupStore store, byte[] payload) {
    for (int i = 0; i < 100; i++) {
      try {
        store.put("3.9", payload);
      } catch (IOException e) {
        throw new java.io.UncheckedIOException(e);
      }
    }
  }

  private static List<String> filesIn(Path directory) throws IOException {
    try (Stream<Path> files = Files.list(directory)) {
      return files.map(p -> p.getFileName().toString()).sorted().toList();
    }
  }

  private static byte[] payload(String service) {
    ObjectNode table = MAPPER.createObjectNode();
    table.put("_format_version", "3.0");
    ObjectNode s = table.putArray("services").addObject();
    s.put("name", service);
    s.put("host", "upstream.internal");
    return HybridProtocol.reconfigure(table, 1_700_000_000.5);
  }

  private static void assumePosix() {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
  }
}
