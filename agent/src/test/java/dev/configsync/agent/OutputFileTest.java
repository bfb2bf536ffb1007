package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.io.IOException;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.List;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

class OutputFileTest {
  private static final ObjectMapper JSON = new ObjectMapper();

  @TempDir Path dir;

  private static boolean posix() {
    return FileSystems.getDefault().supportedFileAttributeViews().contains("posix");
  }

  private List<Path> listing() throws IOException {
    try (Stream<Path> files = Files.list(dir)) {
      return files.toList();
    }
  }

  @Test
  void writesPrettyJsonAndReplacesItAtomically() throws Exception {
    Path target = dir.resolve("config.json");
    OutputFile file = new OutputFile(target);
    JsonNode first = JSON.readTree("{\"services\":[{\"name\":\"a\"}]}");
    JsonNode second = JSON.readTree("{\"services\":[{\"name\":\"b\"}],\"routes\":[]}");

    file.write(first);
    assertThat(JSON.readTree(Files.readString(target))).isEqualTo(first);
    assertThat(Files.readString(target)).contains("\n  \"services\"").endsWith("}\n");

    file.write(second);
    assertThat(JSON.readTree(Files.readString(target))).isEqualTo(second);
    assertThat(listing()).containsExactly(target);
  }

  @Test
  void writesYamlWhenAsked() throws Exception {
    Path target = dir.resolve("config.yml");
    JsonNode config =
        JSON.readTree(
            "{\"services\":[{\"name\":\"a\",\"url\":\"http://u:1\",\"tags\":[\"x\",\"y\"]}],"
                + "\"n\":1.5,\"long\":\""
                + "z".repeat(200)
                + "\"}");
    new OutputFile(target, OutputFile.Format.YAML).write(config);
    String text = Files.readString(target);
    assertThat(text).startsWith("---").contains("services:").doesNotContain("{\"");
    ObjectMapper yaml = new ObjectMapper(new com.fasterxml.jackson.dataformat.yaml.YAMLFactory());
    assertThat(yaml.readTree(text)).isEqualTo(config);
  }

  @Test
  void newFileIsOwnerOnlyAndAnExistingFileKeepsItsMode() throws Exception {
    assumeTrue(posix());
    Path fresh = dir.resolve("fresh.json");
    new OutputFile(fresh).write(JSON.readTree("{}"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(fresh)))
        .isEqualTo("rw-------");

    Path existing = dir.resolve("existing.json");
    Files.writeString(existing, "{}");
    Files.setPosixFilePermissions(existing, PosixFilePermissions.fromString("rw-r-----"));
    new OutputFile(existing).write(JSON.readTree("{\"a\":1}"));
    assertThat(PosixFilePermissions.toString(Files.getPosixFilePermissions(existing)))
        .isEqualTo("rw-r-----");
  }

  @Test
  void aFailedWriteLeavesTheOldFileAndNoTemporaryFile() throws Exception {
    Path missingDir = dir.resolve("missing/config.json");
    assertThatThrownBy(() -> new OutputFile(missingDir).write(JSON.readTree("{}")))
        .isInstanceOf(NoSuchFileException.class);

    // The target is a non-empty directory: the rename fails after the temporary file was written.
    Path target = dir.resolve("taken");
    Files.createDirectories(target.resolve("inside"));
    assertThatThrownBy(() -> new OutputFile(target).write(JSON.readTree("{}")))
        .isInstanceOf(IOException.class);
    assertThat(listing()).containsExactly(target);
  }

  @Test
  void staleTemporaryFilesAreDeletedOthersKept() throws Exception {
    Path target = dir.resolve("config.json");
    Path stale = Files.writeString(dir.resolve(".config.json.0123abcd.tmp"), "partial");
    Path unrelated = Files.writeString(dir.resolve(".other.json.0123abcd.tmp"), "keep");

    new OutputFile(target).deleteStaleTemporaryFiles();

    assertThat(stale).doesNotExist();
    assertThat(unrelated).exists();
  }
}
