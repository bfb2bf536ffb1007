package dev.configsync.agent;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cli.DirectoryLock;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.util.Objects;
import java.util.concurrent.Callable;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine.Command;
import picocli.CommandLine.Option;

/**
 * {@code configsync-agent status --cache-dir DIR}: prints the status of the agent running on {@code
 * DIR}, from the {@code status.json} it keeps there, with {@code "running"} telling whether an
 * agent holds the directory's lock now.
 */
@Command(
    name = "status",
    mixinStandardHelpOptions = true,
    version = ConfigSyncClient.VERSION,
    usageHelpAutoWidth = true,
    description = {
      "Prints the status of the agent running on --cache-dir as one JSON line: connection state,"
          + " configuration hash and source, last contact and apply, reconnects, last error,"
          + " license, cache and usage telemetry backlog.",
      "Exit status: 0 an agent runs on DIR, 1 none runs (the last status it wrote, if any, is"
          + " printed with \"running\":false), 2 bad arguments."
    })
final class StatusCommand implements Callable<Integer> {
  private static final ObjectMapper JSON = new ObjectMapper();

  @Option(
      names = "--cache-dir",
      required = true,
      paramLabel = "DIR",
      description = "The --cache-dir of the agent.")
  @Nullable Path cacheDir;

  private final PrintStream out;
  private final PrintStream err;

  StatusCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public Integer call() {
    Path dir = Objects.requireNonNull(cacheDir, "--cache-dir");
    if (!Files.isDirectory(dir)) {
      err.println(AgentMain.NAME + ": --cache-dir " + dir + " is not a directory");
      err.flush();
      return AgentMain.EXIT_USAGE;
    }
    boolean running;
    try (DirectoryLock lock = DirectoryLock.tryAcquire(dir, AgentMain.LOCK_FILE)) {
      running = lock == null; // someone holds it: an agent (or, for a moment, a load)
    } catch (IOException e) {
      err.println(AgentMain.NAME + ": --cache-dir " + dir + " cannot be used: " + e.getMessage());
      err.flush();
      return AgentMain.EXIT_USAGE;
    }
    ObjectNode answer;
    try {
      answer = (ObjectNode) JSON.readTree(dir.resolve(StatusFile.FILE_NAME).toFile());
    } catch (NoSuchFileException | java.io.FileNotFoundException e) {
      answer = JSON.createObjectNode();
      answer.put("error", "no " + StatusFile.FILE_NAME + " in " + dir + ": no agent has run there");
    } catch (IOException | ClassCastException e) {
      answer = JSON.createObjectNode();
      answer.put("error", StatusFile.FILE_NAME + " cannot be read: " + e.getMessage());
    }
    ObjectNode line = JSON.createObjectNode();
    line.put("running", running);
    line.setAll(answer);
    out.println(line);
    out.flush();
    return running ? AgentMain.EXIT_OK : AgentMain.EXIT_FAILURE;
  }
}
