package dev.configsync.cache;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Clock;
import java.time.Instant;
import java.time.ZoneOffset;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.Optional;
import java.util.UUID;
import java.util.stream.Stream;
import net.jqwik.api.ForAll;
import net.jqwik.api.Property;
import net.jqwik.api.constraints.Size;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class FileSnapshotStoreTest {
  private static final Clock FIXED =
      Clock.fixed(Instant.parse("2026-11-26T15:30:12.123Z"), ZoneOffset.UTC);

  @TempDir Path dir;

  @Test
  void writeThenReadReturnsIdenticalBytes() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    byte[] payload = {0x1f, (byte) 0x8b, 8, 0, 0, 0, 0, 0, (byte) 0xff, 3};

    store.write(payload);

    assertThat(store.read()).hasValueSatisfying(bytes -> assertThat(bytes).isEqualTo(payload));
    assertThat(Files.readAllBytes(dir.resolve("config.json.gz"))).isEqualTo(payload);
    assertThat(store.file()).isEqualTo(dir.toAbsolutePath().resolve("config.json.gz"));
  }

  @Test
  void writtenFileIsReadableOnlyByItsOwner() throws IOException {
    assumePosix();
    FileSnapshotStore store = FileSnapshotStore.open(dir);

    store.write(new byte[] {1, 2, 3});

    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(store.file())))
        .isEqualTo("rw-------");
  }

  @Test
  void createsMissingDirectoryAccessibleOnlyByItsOwner() throws IOException {
    assumePosix();
    Path nested = dir.resolve("a/cache");

    FileSnapshotStore store = FileSnapshotStore.open(nested);

    assertThat(Files.isDirectory(nested)).isTrue();
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(nested)))
        .isEqualTo("rwx------");
    assertThat(store.describe()).isEqualTo(nested.toAbsolutePath().toString());
  }

  @Test
  void secondWriteReplacesTheFileInsteadOfOverwritingIt() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    byte[] first = "first payload".getBytes(UTF_8);
    byte[] second = "second".getBytes(UTF_8);
    store.write(first);

    try (FileChannel reader = FileChannel.open(store.file(), StandardOpenOption.READ)) {
      store.write(second);

      // A reader of the old file still sees all of it: the new payload arrived by rename, so no
      // reader can ever observe a truncated or mixed file.
      ByteBuffer old = ByteBuffer.allocate(first.length + 1);
      while (reader.read(old) > 0) {}
      assertThat(old.flip().remaining()).isEqualTo(first.length);
    }
    assertThat(store.read()).hasValueSatisfying(bytes -> assertThat(bytes).isEqualTo(second));
  }

  @Test
  void leavesNoTemporaryFilesAfterWrites() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);

    for (int i = 0; i < 5; i++) {
      store.write(new byte[i * 100]);
    }
    store.nodeId();

    assertThat(fileNames()).containsExactlyInAnyOrder("config.json.gz", "node.id");
  }

  @Test
  void deletesTemporaryFilesLeftByACrashWhenOpened() throws IOException {
    Files.write(dir.resolve("config.json.gz"), new byte[] {7});
    Files.write(dir.resolve(".config.json.gz.0123456789abcdef.tmp"), new byte[] {1});
    Files.write(dir.resolve(".node.id.fedcba9876543210.tmp"), new byte[] {2});
    Files.write(dir.resolve("unrelated.tmp"), new byte[] {3});

    FileSnapshotStore store = FileSnapshotStore.open(dir);

    assertThat(fileNames()).containsExactlyInAnyOrder("config.json.gz", "unrelated.tmp");
    assertThat(store.read()).hasValueSatisfying(bytes -> assertThat(bytes).containsExactly(7));
  }

  @Test
  void failedWriteLeavesPreviousPayloadIntactAndNoTemporaryFile() throws IOException {
    List<Path> temps = new ArrayList<>();
    FileSnapshotStore store =
        FileSnapshotStore.open(
            dir,
            FileSnapshotStore.DEFAULT_MAX_BYTES,
            FIXED,
            temp -> {
              temps.add(temp);
              if (temps.size() > 1) {
                throw new IOException("disk full (simulated)");
              }
            },
            null);
    byte[] previous = "previous".getBytes(UTF_8);
    store.write(previous);

    assertThatThrownBy(() -> store.write("next".getBytes(UTF_8)))
        .isInstanceOf(IOException.class)
        .hasMessage("disk full (simulated)");

    assertThat(temps.get(1)).doesNotExist();
    assertThat(fileNames()).containsExactly("config.json.gz");
    assertThat(store.read()).hasValueSatisfying(bytes -> assertThat(bytes).isEqualTo(previous));
  }

  @Test
  void writeFailsCleanlyWhenTheDirectoryIsReplacedByAFile() throws IOException {
    Path cache = dir.resolve("cache");
    FileSnapshotStore store = FileSnapshotStore.open(cache);
    Files.delete(cache);
    Files.write(cache, new byte[] {9});

    assertThatThrownBy(() -> store.write(new byte[] {1})).isInstanceOf(IOException.class);
    assertThat(Files.readAllBytes(cache)).containsExactly(9);
  }

  @Test
  void readOfAbsentFileIsEmpty() throws IOException {
    assertThat(FileSnapshotStore.open(dir).read()).isEmpty();
  }

  @Test
  void refusesToReadAFileLargerThanTheLimit() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir, 10);
    store.write(new byte[10]);
    assertThat(store.read()).hasValueSatisfying(bytes -> assertThat(bytes).hasSize(10));

    Files.write(store.file(), new byte[11]);

    assertThatThrownBy(store::read)
        .isInstanceOf(IOException.class)
        .hasMessageContaining(store.file().toString())
        .hasMessageContaining("11 bytes")
        .hasMessageContaining("limit of 10");
  }

  @Test
  void refusesToWriteAPayloadLargerThanTheLimit() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir, 10);

    assertThatThrownBy(() -> store.write(new byte[11]))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("limit is 10");
    assertThat(fileNames()).isEmpty();
  }

  @Test
  void rejectsANonPositiveLimitNamingTheSetting() {
    assertThatThrownBy(() -> FileSnapshotStore.open(dir, 0))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageStartingWith("maxBytes must be");
  }

  @Test
  void moveAsideRenamesWithAUtcTimestampAndReturnsTheName() throws IOException {
    FileSnapshotStore store = open(FIXED);
    store.write(new byte[] {42});

    String name = store.moveAside("gzip trailer is corrupt");

    assertThat(name).isEqualTo("config.json.gz.broken-20261126T153012.123Z");
    assertThat(store.read()).isEmpty();
    assertThat(Files.readAllBytes(dir.resolve(name))).containsExactly(42);
  }

  @Test
  void moveAsideGivesUniqueNamesAndKeepsOnlyTheNewestFive() throws IOException {
    FileSnapshotStore store = open(FIXED); // every call lands in the same millisecond
    List<String> names = new ArrayList<>();

    for (int i = 0; i < 12; i++) {
      store.write(new byte[] {(byte) i});
      names.add(store.moveAside("test " + i));
    }

    assertThat(names).doesNotHaveDuplicates();
    assertThat(names.get(11)).isEqualTo("config.json.gz.broken-20261126T153012.123Z-11");
    assertThat(fileNames()).containsExactlyInAnyOrderElementsOf(names.subList(7, 12));
    assertThat(Files.readAllBytes(dir.resolve(names.get(7)))).containsExactly(7);
  }

  @Test
  void moveAsideDeletesTheOldestByTimestamp() throws IOException {
    Instant start = Instant.parse("2026-11-26T23:59:59.998Z");
    List<String> names = new ArrayList<>();
    for (int i = 0; i < 7; i++) {
      FileSnapshotStore store = open(Clock.fixed(start.plusMillis(i), ZoneOffset.UTC));
      store.write(new byte[] {(byte) i});
      names.add(store.moveAside("test"));
    }

    assertThat(names.get(2)).isEqualTo("config.json.gz.broken-20261127T000000.000Z");
    assertThat(fileNames()).containsExactlyInAnyOrderElementsOf(names.subList(2, 7));
  }

  @Test
  void moveAsideFailsClearlyWhenThereIsNothingToMove() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);

    assertThatThrownBy(() -> store.moveAside("test"))
        .isInstanceOf(IOException.class)
        .hasMessageContaining("does not exist");
  }

  @Test
  void nodeIdIsCreatedOnceAndSurvivesReopening() throws IOException {
    FileSnapshotStore store = FileSnapshotStore.open(dir);
    UUID id = store.nodeId();

    assertThat(store.nodeId()).isEqualTo(id);
    assertThat(FileSnapshotStore.open(dir).nodeId()).isEqualTo(id);
    assertThat(Files.readString(dir.resolve("node.id")).trim()).isEqualTo(id.toString());
  }

  @Test
  void nodeIdWrittenByHandWithWhitespaceIsAccepted() throws IOException {
    UUID id = UUID.randomUUID();
    Files.writeString(
        dir.resolve("node.id"), "  " + id.toString().toUpperCase(Locale.ROOT) + "\r\n");

    assertThat(FileSnapshotStore.open(dir).nodeId()).isEqualTo(id);
  }

  @Test
  void corruptNodeIdIsRefusedWithAMessageNamingTheFileAndTheFix() throws IOException {
    Path idFile = dir.resolve("node.id");
    Files.writeString(idFile, "not-a-uuid\u0000\u001b[31m and a long tail that is cut off here");
    FileSnapshotStore store = FileSnapshotStore.open(dir);

    assertThatThrownBy(store::nodeId)
        .isInstanceOf(IOException.class)
        .hasMessageContaining(idFile.toAbsolutePath().toString())
        .hasMessageContaining("found \"not-a-uuid??[31m and a long tail that is\"")
        .hasMessageContaining("delete it to mint a new node identity");
  }

  @Test
  void lenientlyParsableButNonCanonicalNodeIdIsRefused() throws IOException {
    Files.writeString(dir.resolve("node.id"), "1-2-3-4-5"); // UUID.fromString would accept it

    assertThatThrownBy(FileSnapshotStore.open(dir)::nodeId).isInstanceOf(IOException.class);
  }

  @Test
  void openFailsClearlyWhenThePathIsARegularFile() throws IOException {
    Path notADirectory = Files.write(dir.resolve("cache"), new byte[] {1});

    assertThatThrownBy(() -> FileSnapshotStore.open(notADirectory))
        .isInstanceOf(IOException.class)
        .hasMessageContaining(notADirectory.toString())
        .hasMessageContaining("is not a directory");
  }

  @Property(tries = 100)
  void readAfterReopeningReturnsTheLastPayloadWritten(
      @ForAll @Size(min = 1, max = 5) List<@Size(max = 2048) byte[]> payloads) throws IOException {
    Path directory = Files.createTempDirectory("store-property");
    try {
      FileSnapshotStore store = FileSnapshotStore.open(directory);
      for (byte[] payload : payloads) {
        store.write(payload);
      }

      Optional<byte[]> read = FileSnapshotStore.open(directory).read();

      assertThat(read)
          .hasValueSatisfying(
              bytes -> assertThat(bytes).isEqualTo(payloads.get(payloads.size() - 1)));
    } finally {
      try (Stream<Path> files = Files.list(directory)) {
        for (Path file : (Iterable<Path>) files::iterator) {
          Files.delete(file);
        }
      }
      Files.delete(directory);
    }
  }

  private FileSnapshotStore open(Clock clock) throws IOException {
    return FileSnapshotStore.open(
        dir, FileSnapshotStore.DEFAULT_MAX_BYTES, clock, temp -> {}, null);
  }

  private List<String> fileNames() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.map(p -> p.getFileName().toString()).toList();
    }
  }

  private static void assumePosix() {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
  }
}
