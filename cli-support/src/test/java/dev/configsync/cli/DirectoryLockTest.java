package dev.configsync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class DirectoryLockTest {
  @TempDir Path dir;

  @Test
  void oneHolderAtATimeAndTheFileStays() throws Exception {
    Path locked = dir.resolve("store");
    DirectoryLock.createDirectory(locked);
    try (DirectoryLock lock = DirectoryLock.tryAcquire(locked, "x.lock")) {
      assertThat(lock).isNotNull();
      assertThat(DirectoryLock.tryAcquire(locked, "x.lock")).isNull();
      assertThat(DirectoryLock.acquire(locked, "x.lock", Duration.ofMillis(250))).isNull();
      assertThat(Files.readString(locked.resolve("x.lock")).strip())
          .isEqualTo(Long.toString(ProcessHandle.current().pid()));
    }
    assertThat(locked.resolve("x.lock")).exists();
    try (DirectoryLock again = DirectoryLock.tryAcquire(locked, "x.lock")) {
      assertThat(again).isNotNull();
    }
  }

  @Test
  void aFileIsNotADirectory() throws Exception {
    Path file = Files.writeString(dir.resolve("a-file"), "x");
    assertThatThrownBy(() -> DirectoryLock.createDirectory(file))
        .isInstanceOf(IOException.class)
        .hasMessage(file + " exists but is not a directory");
  }
}
