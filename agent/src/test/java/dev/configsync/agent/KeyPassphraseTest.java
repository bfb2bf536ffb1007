package dev.configsync.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import dev.configsync.cli.BadArgumentException;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Map;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class KeyPassphraseTest {
  @TempDir Path dir;

  private char[] fromFile(byte[] content) throws Exception {
    Path file = Files.write(dir.resolve("pass"), content);
    return KeyPassphrase.read(file, null, name -> null);
  }

  @Test
  void oneTrailingNewlineIsDropped() throws Exception {
    assertThat(fromFile("secret\n".getBytes(UTF_8))).containsExactly("secret".toCharArray());
    assertThat(fromFile("secret\r\n".getBytes(UTF_8))).containsExactly("secret".toCharArray());
    assertThat(fromFile("secret".getBytes(UTF_8))).containsExactly("secret".toCharArray());
    // Only one: the rest is the passphrase, spaces included.
    assertThat(fromFile(" secret \n\n".getBytes(UTF_8)))
        .containsExactly(" secret \n".toCharArray());
  }

  @Test
  void badFilesAreRefusedNamingTheFlag() throws IOException {
    assertThatThrownBy(() -> fromFile(new byte[KeyPassphrase.MAX_BYTES + 1]))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageContaining("--key-passphrase-file")
        .hasMessageContaining("larger than 4096 bytes");
    assertThatThrownBy(() -> fromFile(new byte[] {(byte) 0xff, (byte) 0xfe}))
        .hasMessageContaining("is not UTF-8 text");
    assertThatThrownBy(() -> fromFile(new byte[0])).hasMessageEndingWith("is empty");
  }

  @Test
  void theEnvironmentVariableIsRead() throws Exception {
    Map<String, String> env = Map.of("DP_KEY_PASS", "from env");
    assertThat(KeyPassphrase.read(null, "DP_KEY_PASS", env::get))
        .containsExactly("from env".toCharArray());
    assertThat(KeyPassphrase.read(null, null, env::get)).isNull();
    assertThatThrownBy(() -> KeyPassphrase.read(null, "OTHER", env::get))
        .hasMessage("--key-passphrase-env: the environment variable OTHER is not set or empty");
  }
}
