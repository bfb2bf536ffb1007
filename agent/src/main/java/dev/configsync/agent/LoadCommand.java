package dev.configsync.agent;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigRejectedException;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.ConfigSyncException;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.cli.DirectoryLock;
import dev.configsync.cli.Durations;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import dev.configsync.internal.LicenseVerifier;
import dev.configsync.spi.Transport;
import java.io.IOException;
import java.io.PrintStream;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.Callable;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine.Command;
import picocli.CommandLine.Mixin;
import picocli.CommandLine.Option;
import picocli.CommandLine.Parameters;

/**
 * {@code configsync-agent load FILE --cache-dir DIR}: loads a configuration by hand, into the agent
 * running on {@code DIR} if there is one (see {@link Incoming} and {@link IncomingWatcher}), or
 * else straight into the cache, where the next {@code run} starts from it.
 */
@Command(
    name = "load",
    mixinStandardHelpOptions = true,
    version = ConfigSyncClient.VERSION,
    sortOptions = false,
    usageHelpAutoWidth = true,
    description = {
      "Loads a configuration by hand, for a node cut off from its control plane.",
      "If an agent runs on --cache-dir, FILE is handed to it (through <cache-dir>/incoming/) and"
          + " runs at once (--output, --on-change); otherwise it is written to the cache, and the"
          + " next 'run' starts from it.",
      "FILE is JSON, YAML (.yml, .yaml), or a config.json.gz copied from another node (verified"
          + " by its hash; not an encrypted one).",
      "When no agent runs and the cache is encrypted, give the agent's key (--cache-key-file or"
          + " --cache-key-env); a running agent uses its own.",
      "Prints one JSON line: {\"ok\":true,\"hash\":...,\"applied\":\"agent\"|\"cache\"} or"
          + " {\"ok\":false,\"error\":...}.",
      "Exit status: 0 loaded, 1 refused or not answered in time, 2 bad arguments."
    })
final class LoadCommand implements Callable<Integer> {
  private static final Logger log = LoggerFactory.getLogger(LoadCommand.class);

  /** How often the answer of a running agent is looked for. */
  private static final Duration WAIT_STEP = Duration.ofMillis(50);

  /** The control plane of the offline client: never dialled (the transport fails at once). */
  private static final URI NO_CONTROL_PLANE = URI.create("wss://offline.invalid");

  /** The largest inflated cache read back: the client's default inflated-size cap. */
  private static final long MAX_INFLATED_BYTES = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;

  private static final ObjectMapper JSON = new ObjectMapper();

  @Parameters(index = "0", paramLabel = "FILE", description = "The configuration to load.")
  @Nullable Path file;

  @Option(
      names = "--cache-dir",
      required = true,
      paramLabel = "DIR",
      description = "The --cache-dir of the node's agent.")
  @Nullable Path cacheDir;

  @Mixin CacheKeyOptions cacheKeys = new CacheKeyOptions();

  @Option(
      names = "--force",
      description =
          "Load even while the agent is connected to its control plane (whose next configuration"
              + " replaces this one).")
  boolean force;

  @Option(
      names = "--timeout",
      paramLabel = "DURATION",
      defaultValue = "30s",
      converter = Durations.Converter.class,
      description = "How long to wait for a running agent's answer (default ${DEFAULT-VALUE}).")
  Duration timeout = Duration.ofSeconds(30);

  @Option(
      names = "--license-key",
      paramLabel = "FILE",
      description =
          "When no agent runs: the Ed25519 public key (PEM) that must have signed the"
              + " configuration's license, as given to 'run --license-key'. A running agent checks"
              + " with its own key.")
  @Nullable Path licenseKey;

  private final PrintStream out;
  private final PrintStream err;

  LoadCommand(PrintStream out, PrintStream err) {
    this.out = out;
    this.err = err;
  }

  @Override
  public Integer call() {
    Path source = Objects.requireNonNull(file, "FILE");
    Path dir = Objects.requireNonNull(cacheDir, "--cache-dir");
    if (!Files.exists(source)) {
      return usage(source + ": no such file");
    }
    if (!Files.isRegularFile(source) || !Files.isReadable(source)) {
      return usage(source + ": not a readable regular file");
    }
    if (timeout.isZero() || timeout.isNegative()) {
      return usage("--timeout must be positive, got: " + Durations.format(timeout));
    }
    String keyPem = null;
    Path keyFile = licenseKey;
    if (keyFile != null) {
      try {
        keyPem = Files.readString(keyFile);
        LicenseVerifier.fromPem(keyPem);
      } catch (IOException | RuntimeException e) {
        return usage(
            "--license-key "
                + keyFile
                + " is not a readable Ed25519 public key: "
                + e.getMessage());
      }
    }
    AtRestEncryption encryption;
    try {
      encryption = cacheKeys.encryption();
    } catch (IllegalArgumentException e) {
      return usage(String.valueOf(e.getMessage()));
    }
    DirectoryLock lock;
    try {
      DirectoryLock.createDirectory(dir);
      lock = DirectoryLock.tryAcquire(dir, AgentMain.LOCK_FILE);
    } catch (IOException e) {
      return usage("--cache-dir " + dir + " cannot be used: " + e.getMessage());
    }
    warnIfOwnedByAnother(dir);
    if (lock == null) {
      return handToAgent(source, dir);
    }
    try (lock) {
      // Without the key the cache was written with, the offline client would move it aside.
      Optional<String> mismatch = CacheKeyOptions.keyMismatch(dir, encryption);
      if (mismatch.isPresent()) {
        return usage(mismatch.get());
      }
      return writeToCache(source, dir, keyPem, encryption);
    }
  }

  /**
   * Files written by another user (root, typically) may be unreadable for the agent: the request
   * and the cache are mode 0600. Warn, since it may also be on purpose.
   */
  private void warnIfOwnedByAnother(Path dir) {
    try {
      String owner = Files.getOwner(dir).getName();
      String me = System.getProperty("user.name", "");
      if (!owner.equals(me)) {
        err.println(
            AgentMain.NAME
                + ": warning: "
                + dir
                + " belongs to "
                + owner
                + ", not to "
                + me
                + ": files written now (mode 0600) may be unreadable for the agent; run load as "
                + owner);
        err.flush();
      }
    } catch (IOException | UnsupportedOperationException e) {
      // No owner to compare with: nothing to warn about.
    }
  }

  // ---- an agent runs: hand the file over and wait for its answer -------------------------------

  private int handToAgent(Path source, Path dir) {
    Path incoming;
    UUID id = UUID.randomUUID();
    String name = Incoming.requestName(id, force, Incoming.extension(source));
    try {
      incoming = Incoming.createDirectory(dir);
      Incoming.copyAtomically(source, incoming, name);
    } catch (IOException e) {
      return refused(
          "cannot hand " + source + " to the agent running on " + dir + ": " + e, null, name);
    }
    log.debug("an agent runs on {}; handed {} to it as {}", dir, source, name);
    Path request = incoming.resolve(name);
    Path result = incoming.resolve(Incoming.resultName(id));
    long deadline = System.nanoTime() + timeout.toNanos();
    try {
      while (!Files.exists(result)) {
        if (System.nanoTime() - deadline >= 0) {
          return noAnswer(dir, request, name);
        }
        Thread.sleep(WAIT_STEP.toMillis());
      }
    } catch (InterruptedException e) {
      withdraw(request);
      Thread.currentThread().interrupt();
      return refused("interrupted while waiting for the agent's answer", null, name);
    }
    JsonNode answer;
    try {
      answer = JSON.readTree(Files.readAllBytes(result));
      Files.deleteIfExists(result);
      Files.deleteIfExists(request); // normally gone already: the agent deletes what it took
    } catch (IOException e) {
      return refused("cannot read the agent's answer " + result + ": " + e, null, name);
    }
    if (answer == null || !answer.isObject()) {
      return refused("the agent's answer " + result + " is not a JSON object", null, name);
    }
    ObjectNode shown = ((ObjectNode) answer).deepCopy();
    if (answer.path("ok").asBoolean(false)) {
      print(shown);
      return AgentMain.EXIT_OK;
    }
    String error = answer.path("error").asText("the agent refused the configuration");
    JsonNode hash = answer.get("hash");
    return refused(error, hash != null && hash.isTextual() ? hash.asText() : null, name);
  }

  private int noAnswer(Path dir, Path request, String name) {
    if (!withdraw(request)) {
      return refused(
          "the agent running on "
              + dir
              + " took the request but did not answer within "
              + Durations.format(timeout)
              + "; its manual_load_finished event line tells how it ended",
          null,
          name);
    }
    boolean agentGone;
    try (DirectoryLock lock = DirectoryLock.tryAcquire(dir, AgentMain.LOCK_FILE)) {
      agentGone = lock != null;
    } catch (IOException e) {
      agentGone = false;
    }
    return refused(
        agentGone
            ? "the agent on "
                + dir
                + " stopped before it took the configuration; run this command again to write"
                + " it to the cache"
            : "the agent running on "
                + dir
                + " did not take the configuration within "
                + Durations.format(timeout)
                + "; the request was withdrawn",
        null,
        name);
  }

  /** Deletes a request the agent has not taken yet; false when it has (or it is gone). */
  private static boolean withdraw(Path request) {
    try {
      return Files.deleteIfExists(request);
    } catch (IOException e) {
      log.warn("cannot withdraw {}: {}", request, e.toString());
      return false;
    }
  }

  // ---- no agent runs: write the cache ----------------------------------------------------------

  /**
   * Loads {@code source} with a client of its own on {@code dir}, one that never reaches a control
   * plane: the file is read and checked exactly as a running agent would (format, hash, license),
   * and cached durably before {@link ConfigSyncClient#loadManual} returns. Called with the lock
   * held, so that no agent starts on the directory meanwhile.
   */
  private int writeToCache(
      Path source, Path dir, @Nullable String keyPem, @Nullable AtRestEncryption encryption) {
    FileSnapshotStore store;
    try {
      store = CacheKeyOptions.openStore(dir, encryption);
    } catch (IOException | RuntimeException e) {
      return usage("--cache-dir " + dir + " cannot be used: " + e.getMessage());
    }
    List<String> cacheFailures = new CopyOnWriteArrayList<>();
    ConfigSyncClient.Builder builder =
        ConfigSyncClient.builder()
            .controlPlane(NO_CONTROL_PLANE)
            .transport(new OfflineTransport())
            .snapshotStore(store)
            .reconnectDelay(Duration.ofHours(1), Duration.ofHours(1))
            .onEvent(
                event -> {
                  if (event instanceof SyncEvent.CacheWriteFailed failed) {
                    cacheFailures.add(failed.reason());
                  }
                });
    if (keyPem != null) {
      builder.licenseKeyPem(keyPem);
    }
    ConfigSyncClient client = builder.build();
    String hash;
    try {
      client.start();
      ConfigSnapshot snapshot = client.loadManual(source, true);
      hash = snapshot.hash();
    } catch (ConfigRejectedException e) {
      return refused(e.getMessage(), e.hash(), null);
    } catch (ConfigFileException e) {
      return refused(
          e.getMessage(),
          e.getCause() instanceof ConfigRejectedException r ? r.hash() : null,
          null);
    } catch (ConfigSyncException | IllegalStateException e) {
      return refused(String.valueOf(e.getMessage()), null, null);
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      return refused("interrupted while loading " + source, null, null);
    } finally {
      client.close();
    }
    String cached = cachedHash(store);
    if (!hash.equals(cached)) {
      return refused(
          "configuration "
              + hash
              + " is valid but could not be written to "
              + store.file()
              + (cacheFailures.isEmpty() ? "" : ": " + String.join("; ", cacheFailures)),
          hash,
          null);
    }
    print(Incoming.okResult(hash, "cache"));
    return AgentMain.EXIT_OK;
  }

  /** The hash of the configuration now in the cache, or null when there is none readable. */
  private static @Nullable String cachedHash(FileSnapshotStore store) {
    try {
      Optional<byte[]> payload = store.read();
      if (payload.isEmpty()) {
        return null;
      }
      JsonNode message = Json.readFrozen(Gzip.decompress(payload.get(), MAX_INFLATED_BYTES));
      return ConfigHash.configHash(message.get("config_table"));
    } catch (IOException | RuntimeException e) {
      log.warn("cannot read back {}: {}", store.file(), e.toString());
      return null;
    }
  }

  // ---- output ----------------------------------------------------------------------------------

  private void print(ObjectNode answer) {
    out.println(Incoming.line(answer));
    out.flush();
  }

  /**
   * Prints {@code {"ok":false,...}} on stdout and the error on stderr; the request's name, which
   * the agent's messages use, is replaced by the operator's file.
   */
  private int refused(String error, @Nullable String hash, @Nullable String requestName) {
    String message = error;
    if (requestName != null) {
      message = message.replace(requestName, Objects.requireNonNull(file).toString());
    }
    print(Incoming.failedResult(message, hash));
    err.println(AgentMain.NAME + ": " + message);
    err.flush();
    return AgentMain.EXIT_FAILURE;
  }

  private int usage(String message) {
    err.println(AgentMain.NAME + ": " + message);
    err.flush();
    return AgentMain.EXIT_USAGE;
  }

  /** A transport for a client that must never reach a control plane: every attempt fails. */
  private static final class OfflineTransport implements Transport {
    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      listener.onFailure(
          new IOException("offline: configsync-agent load writes the cache without connecting"));
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
