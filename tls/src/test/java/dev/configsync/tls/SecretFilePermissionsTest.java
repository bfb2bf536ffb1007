package dev.configsync.tls;

import static org.assertj.core.api.Assertions.assertThat;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;

class SecretFilePermissionsTest {
  @TempDir Path dir;

  @BeforeEach
  void posixOnly() {
    assumeTrue(FileSystems.getDefault().supportedFileAttributeViews().contains("posix"));
  }

  private Path file(String mode) throws IOException {
    Path file = dir.resolve("dp.key");
    Files.writeString(file, "secret");
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }

  @ParameterizedTest
  @ValueSource(strings = {"rw-------", "r--------", "---------"})
  void ownerOnlyIsQuiet(String mode) throws IOException {
    assertThat(SecretFilePermissions.warning(file(mode), "private key")).isEmpty();
  }

  @Test
  void readableByOthersSaysTheModeAndTheFix() throws IOException {
    Path file = file("rw-r--r--");
    assertThat(SecretFilePermissions.warning(file, "private key"))
        .contains(
            file
                + ": the private key file is accessible to group or others (mode 0644); run"
                + " 'chmod 600 "
                + file
                + "' so that only its owner can read it");
  }

  @ParameterizedTest
  @ValueSource(strings = {"rw-r-----", "rw-----w-", "rw----r--", "rwx--x---"})
  void anyAccessByGroupOrOthersWarns(String mode) throws IOException {
    assertThat(SecretFilePermissions.warning(file(mode), "key passphrase"))
        .hasValueSatisfying(w -> assertThat(w).contains("key passphrase file is accessible"));
  }

  @Test
  void modeIsPrintedInOctal() {
    assertThat(SecretFilePermissions.octal(PosixFilePermissions.fromString("rwxr-x--x")))
        .isEqualTo("0751");
    assertThat(SecretFilePermissions.octal(PosixFilePermissions.fromString("---------")))
        .isEqualTo("0000");
  }

  @Test
  void symbolicLinksAreFollowed() throws IOException {
    Path target = file("rw-r--r--");
    Path link = Files.createSymbolicLink(dir.resolve("link.key"), target);
    // The link itself is always rwxrwxrwx; what matters is the file read through it.
    assertThat(SecretFilePermissions.warning(link, "private key"))
        .get()
        .asString()
        .contains("0644");
  }

  @Test
  void aMissingFileIsLeftToTheReader() {
    assertThat(SecretFilePermissions.warning(dir.resolve("missing"), "private key")).isEmpty();
  }
}
