package dev.configsync.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.StandardCopyOption.ATOMIC_MOVE;

import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigRejectedException;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cli.Durations;
import java.io.IOException;
import java.nio.file.DirectoryStream;
import java.nio.file.Files;
import java.nio.file.NoSuchFileException;
import java.nio.file.Path;
import java.nio.file.attribute.FileTime;
import java.time.Clock;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.Executors;
import java.util.concurrent.ScheduledExecutorService;
import java.util.concurrent.ScheduledFuture;
import java.util.concurrent.TimeUnit;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The running agent's side of {@code configsync-agent load}: polls {@code <cache-dir>/incoming/}
 * for requests (see {@link Incoming}) and loads each with {@link ConfigSyncClient#loadManual(Path,
 * boolean)}, on a thread of its own (never the client's listener thread), one at a time, oldest
 * first.
 *
 * <p>For each request: claim it (rename), load it, write the answer, print {@code
 * manual_load_finished}, delete the claimed file. Temporary files and answers older than {@link
 * #STALE_AFTER} (left by a {@code load} that was killed) are deleted while polling; claimed
 * requests left by an agent that died while loading them are deleted at start (their {@code load}
 * has no answer coming, and gives up at its timeout).
 */
final class IncomingWatcher implements AutoCloseable {
  private static final Logger log = LoggerFactory.getLogger(IncomingWatcher.class);

  /**
   * How often the directory is looked at, unless {@link #POLL_INTERVAL_PROPERTY} says otherwise.
   */
  static final Duration DEFAULT_POLL_INTERVAL = Duration.ofMillis(500);

  /**
   * A system property that replaces {@link #DEFAULT_POLL_INTERVAL} (a duration such as {@code
   * 50ms}); for tests.
   */
  static final String POLL_INTERVAL_PROPERTY = "configsync.agent.incomingPollInterval";

  /** How old a temporary file or an unread answer must be to be deleted as left over. */
  static final Duration STALE_AFTER = Duration.ofMinutes(10);

  /** How long {@link #close()} lets a load under way finish (a load waits for the cache write). */
  private static final Duration CLOSE_GRACE = Duration.ofSeconds(15);

  private final Path dir;
  private final ConfigSyncClient client;
  private final EventLines lines;
  private final Clock clock;
  private final Duration interval;
  private final ScheduledExecutorService executor =
      Executors.newSingleThreadScheduledExecutor(
          r -> {
            Thread t = new Thread(r, "configsync-agent-incoming");
            t.setDaemon(true);
            return t;
          });
  private volatile boolean closing;
  private @Nullable ScheduledFuture<?> polling;

  IncomingWatcher(
      Path dir, ConfigSyncClient client, EventLines lines, Clock clock, Duration interval) {
    this.dir = dir;
    this.client = client;
    this.lines = lines;
    this.clock = clock;
    this.interval = interval;
  }

  /** {@link #DEFAULT_POLL_INTERVAL}, or the value of {@link #POLL_INTERVAL_PROPERTY}. */
  static Duration configuredPollInterval() {
    String value = System.getProperty(POLL_INTERVAL_PROPERTY);
    if (value == null) {
      return DEFAULT_POLL_INTERVAL;
    }
    try {
      Duration d = Durations.parse(value);
      if (!d.isNegative() && !d.isZero()) {
        return d;
      }
    } catch (IllegalArgumentException e) {
      // reported below
    }
    log.warn(
        "ignoring -D{}={}: not a positive duration; polling every {}",
        POLL_INTERVAL_PROPERTY,
        value,
        Durations.format(DEFAULT_POLL_INTERVAL));
    return DEFAULT_POLL_INTERVAL;
  }

  /** Deletes what a dead agent left claimed, then polls until {@link #close()}. */
  void start() {
    deleteLeftClaims();
    polling =
        executor.scheduleWithFixedDelay(this::poll, 0, interval.toNanos(), TimeUnit.NANOSECONDS);
  }

  /**
   * Stops polling. A load under way may finish (within 15 s) and is answered; requests not yet
   * claimed stay for the next agent, or until their {@code load} withdraws them.
   */
  @Override
  public void close() {
    closing = true;
    ScheduledFuture<?> p = polling;
    if (p != null) {
      p.cancel(false);
    }
    executor.shutdown();
    try {
      if (!executor.awaitTermination(CLOSE_GRACE.toMillis(), TimeUnit.MILLISECONDS)) {
        log.warn("a manual load did not finish within {}; interrupting it", CLOSE_GRACE);
        executor.shutdownNow();
      }
    } catch (InterruptedException e) {
      executor.shutdownNow();
      Thread.currentThread().interrupt();
    }
  }

  private void deleteLeftClaims() {
    try (DirectoryStream<Path> files =
        Files.newDirectoryStream(
            dir, p -> p.getFileName().toString().startsWith(Incoming.CLAIMED_PREFIX))) {
      for (Path claimed : files) {
        Files.deleteIfExists(claimed);
        log.warn(
            "deleted {}: a manual load that an agent took but did not answer before it stopped",
            claimed);
      }
    } catch (IOException e) {
      log.warn("cannot clean {}: {}", dir, e.toString());
    }
  }

  /** One look at the directory. Never throws: that would end the polling. */
  private void poll() {
    try {
      for (Incoming.Request request : pendingRequests()) {
        if (closing || Thread.currentThread().isInterrupted()) {
          return;
        }
        handle(request);
      }
    } catch (IOException | RuntimeException e) {
      log.warn("cannot look at {}: {}", dir, e.toString());
      log.debug("cannot look at {}", dir, e);
    }
  }

  /** The requests waiting, oldest first; deletes stale left-overs on the way. */
  private List<Incoming.Request> pendingRequests() throws IOException {
    record Found(Incoming.Request request, FileTime modified) {}
    List<Found> found = new ArrayList<>();
    Instant staleBefore = clock.instant().minus(STALE_AFTER);
    try (DirectoryStream<Path> files = Files.newDirectoryStream(dir)) {
      for (Path file : files) {
        String name = file.getFileName().toString();
        Optional<Incoming.Request> request = Incoming.parseRequest(name);
        if (request.isPresent()) {
          found.add(new Found(request.get(), modified(file)));
        } else if ((Incoming.isResult(name)
                || (name.startsWith(".") && name.endsWith(Incoming.TEMP_SUFFIX)))
            && modified(file).toInstant().isBefore(staleBefore)) {
          Files.deleteIfExists(file);
          log.info("deleted {}, left over for more than {}", file, STALE_AFTER);
        }
      }
    }
    found.sort(Comparator.comparing(Found::modified).thenComparing(f -> f.request().name()));
    return found.stream().map(Found::request).toList();
  }

  private static FileTime modified(Path file) {
    try {
      return Files.getLastModifiedTime(file);
    } catch (IOException e) {
      return FileTime.fromMillis(0);
    }
  }

  private void handle(Incoming.Request request) throws IOException {
    Path claimed = dir.resolve(request.claimedName());
    try {
      Files.move(dir.resolve(request.name()), claimed, ATOMIC_MOVE);
    } catch (NoSuchFileException e) {
      return; // withdrawn by its load in the meantime
    }
    log.info(
        "loading configuration by hand from request {}{}",
        request.name(),
        request.force() ? " (forced)" : "");
    String hash = null;
    String error = null;
    try {
      ConfigSnapshot snapshot = client.loadManual(claimed, request.force());
      hash = snapshot.hash();
    } catch (ConfigRejectedException e) {
      hash = e.hash();
      error = e.getMessage();
    } catch (ConfigFileException e) {
      if (e.getCause() instanceof ConfigRejectedException rejected) {
        hash = rejected.hash();
      }
      error = e.getMessage();
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      error = "the agent stopped while loading the configuration; it may or may not run";
    } catch (RuntimeException e) {
      String message = e.getMessage();
      error = message == null ? e.getClass().getSimpleName() : message;
    }
    if (error != null) {
      // Name the request rather than the claimed file, and the command rather than the API.
      error =
          error
              .replace(claimed.toString(), request.name())
              .replace(
                  "call loadManual(file, true) to force it",
                  "use '" + AgentMain.NAME + " load --force' to force it");
      log.warn("manual load of request {} refused: {}", request.name(), error);
    }
    boolean ok = error == null && hash != null;
    ObjectNode answer =
        ok && hash != null
            ? Incoming.okResult(hash, "agent")
            : Incoming.failedResult(String.valueOf(error), hash);
    byte[] result = (Incoming.line(answer) + "\n").getBytes(UTF_8);
    try {
      Incoming.writeAtomically(dir, request.resultName(), result);
    } catch (IOException e) {
      log.warn(
          "cannot write the answer to request {} (its load command will time out): {}",
          request.name(),
          e.toString());
    }
    lines.print(
        new AgentEvent.ManualLoadFinished(
            clock.instant(), hash, ok, error, request.id(), request.force()));
    Files.deleteIfExists(claimed);
  }
}
