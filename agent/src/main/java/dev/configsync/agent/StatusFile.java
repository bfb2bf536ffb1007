package dev.configsync.agent;

import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;
import static java.nio.file.StandardCopyOption.REPLACE_EXISTING;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.SyncStatus;
import dev.configsync.UsageStatus;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.time.Instant;
import java.util.Locale;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * {@code <cache-dir>/status.json}: the running agent's {@code client.status()}, rewritten
 * atomically (temporary file, rename) whenever it changes, checked every {@link #PERIOD}, so that
 * {@code configsync-agent status} can show it. Not forced to disk: it describes a running process,
 * and a crash makes it stale anyway (the status command tells by the agent's lock).
 */
final class StatusFile implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(StatusFile.class);
  static final String FILE_NAME = "status.json";
  static final Duration PERIOD = Duration.ofSeconds(1);
  private static final ObjectMapper JSON = new ObjectMapper();

  private final Path file;
  private final Supplier<SyncStatus> status;
  private final Consumer<ObjectNode> agentFields;
  private final ScheduledExecutorService timer;
  private @Nullable String written;

  /**
   * @param agentFields adds the agent's own fields (what it declares to the control plane, what it
   *     does with the output file) after the client's; called on the status thread
   */
  StatusFile(Path cacheDir, Supplier<SyncStatus> status, Consumer<ObjectNode> agentFields) {
    this.file = cacheDir.resolve(FILE_NAME);
    this.status = status;
    this.agentFields = agentFields;
    this.timer =
        Executors.newSingleThreadScheduledExecutor(
            r -> {
              Thread t = new Thread(r, "configsync-agent-status");
              t.setDaemon(true);
              return t;
            });
  }

  void start() {
    var unused =
        timer.scheduleWithFixedDelay(
            this::writeIfChanged, 0, PERIOD.toMillis(), TimeUnit.MILLISECONDS);
  }

  /** Stops the timer and writes the last status (the client is closed by then). */
  @Override
  public void close() {
    timer.shutdownNow();
    try {
      timer.awaitTermination(5, TimeUnit.SECONDS);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
    }
    writeIfChanged();
  }

  private synchronized void writeIfChanged() {
    try {
      ObjectNode o = toJson(status.get());
      agentFields.accept(o);
      String json = JSON.writeValueAsString(o);
      if (json.equals(written)) {
        return;
      }
      Path temp = file.resolveSibling("." + FILE_NAME + ".tmp");
      Files.deleteIfExists(temp);
      if (temp.getFileSystem().supportedFileAttributeViews().contains("posix")) {
        Files.createFile(
            temp,
            PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString("rw-------")));
      }
      Files.writeString(temp, json + "\n", StandardCharsets.UTF_8);
      Files.move(temp, file, REPLACE_EXISTING, ATOMIC_MOVE);
      written = json;
    } catch (IOException | RuntimeException e) {
      log.debug("cannot write {}: {}", file, e.toString());
    }
  }

  /** The status as JSON: snake_case fields, times as ISO-8601, nulls left out. */
  static ObjectNode toJson(SyncStatus s) throws JsonProcessingException {
    ObjectNode o = JSON.createObjectNode();
    o.put("state", lower(s.state()));
    o.put("node_id", s.nodeId().toString());
    putIfSet(o, "hash", s.hash());
    putIfSet(o, "source", s.source() == null ? null : lower(s.source()));
    putIfSet(o, "last_contact", s.lastContact());
    putIfSet(o, "last_applied", s.lastApplied());
    o.put("connect_attempts", s.connectAttempts());
    o.put("reconnects", s.reconnects());
    o.put("applied", s.applied());
    o.put("rejected", s.rejected());
    putIfSet(o, "last_error", s.lastError());
    o.put("license_state", lower(s.licenseState()));
    putIfSet(o, "license_expires_at", s.licenseExpiresAt());
    o.put("serving", s.serving());
    o.put("cache_state", lower(s.cacheState()));
    putIfSet(o, "last_cache_write", s.lastCacheWrite());
    UsageStatus u = s.usage();
    ObjectNode usage = o.putObject("usage");
    usage.put("link", lower(u.link()));
    usage.put("buffered_batches", u.bufferedBatches());
    usage.put("buffered_records", u.bufferedRecords());
    usage.put("pending_keys", u.pendingKeys());
    usage.put("sent_batches", u.sentBatches());
    usage.put("acknowledged_batches", u.acknowledgedBatches());
    usage.put("lost_batches", u.lostBatches());
    usage.put("lost_records", u.lostRecords());
    usage.put("refused_records", u.refusedRecords());
    putIfSet(usage, "last_error", u.lastError());
    o.put("pid", ProcessHandle.current().pid());
    return o;
  }

  private static void putIfSet(ObjectNode o, String name, @Nullable Object value) {
    if (value != null) {
      o.put(name, value instanceof Instant i ? i.toString() : value.toString());
    }
  }

  private static String lower(Enum<?> e) {
    return e.name().toLowerCase(Locale.ROOT);
  }
}
