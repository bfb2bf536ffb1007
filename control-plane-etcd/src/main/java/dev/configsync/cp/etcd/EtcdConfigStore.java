package dev.configsync.cp.etcd;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.cp.ConfigConflictException;
import dev.configsync.cp.ConfigOutcomeUnknownException;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ConfigVersion;
import dev.configsync.cp.DataPlaneInfo;
import dev.configsync.cp.FleetDirectory;
import dev.configsync.cp.UsageReport;
import java.io.IOException;
import java.net.InetAddress;
import java.net.URI;
import java.net.UnknownHostException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Objects;
import java.util.Optional;
import java.util.function.Supplier;
import javax.net.ssl.SSLContext;
import org.jspecify.annotations.Nullable;

/**
 * The shared store of a highly available control plane: several {@link
 * dev.configsync.cp.ControlPlaneServer} replicas keep their configuration, their data planes and
 * their usage figures in one etcd cluster (etcd 3.4 or newer), under a key prefix.
 *
 * <pre>{@code
 * EtcdConfigStore etcd = EtcdConfigStore.builder()
 *     .endpoints(List.of(URI.create("http://etcd-1:2379"), URI.create("http://etcd-2:2379"),
 *                        URI.create("http://etcd-3:2379")))
 *     .replicaName("cp-1")
 *     .build();
 * ControlPlaneServer cp = ControlPlaneServer.builder()
 *     .tls(...)
 *     .configStore(etcd)        // publishes: chunks, then one compare-and-set transaction
 *     .fleetDirectory(etcd)     // GET /clustering/data-planes lists the whole fleet
 *     .start();
 * }</pre>
 *
 * <p><b>Configuration.</b> A publish writes the gzip frame (in chunks of at most 512 KiB under
 * {@code <prefix>~blobs/} when it is larger, each in its own request, so that etcd's request limit
 * bounds a chunk and not the configuration), then commits the frame or the manifest of its chunks
 * ({@code <prefix>config}), its hash ({@code <prefix>config-hash}), its history entry and its
 * change in one transaction that also checks that the stored configuration is still the one this
 * replica replaces; if another replica published first, nothing is committed and the publish fails
 * with a {@link ConfigConflictException} (the admin API's 409). Chunks that no configuration in
 * force needs any more (replaced ones, and those of a publish that never committed) are deleted
 * after the next publish. Every replica watches the prefix and hands what others publish to its
 * control plane, which sends it to its own nodes at once. A watch that broke resumes from the last
 * revision it saw; when etcd compacted that revision away, the replica reloads the latest state
 * instead.
 *
 * <p><b>Fleet.</b> Each replica writes its data planes under {@code <prefix>nodes/<replica>/},
 * attached to a lease it keeps alive: when a replica crashes, its entries disappear once the lease
 * expires ({@link Builder#leaseTtl}). Writes are batched, at most one round per {@link
 * Builder#flushInterval}, and only for nodes whose state changed (or whose last-seen time is 30 s
 * old); pings are never written one by one.
 *
 * <p><b>Health.</b> When etcd cannot be reached for {@link Builder#unavailableAfter} in a row,
 * {@link #unavailable()} says so: the control plane reports itself {@code degraded}, refuses
 * publishes at once with that reason, and keeps serving the configuration it has, also to nodes
 * that connect meanwhile.
 *
 * <p><b>Threads.</b> Thread-safe. Two daemon threads per store: {@code configsync-etcd-watch-*}
 * reads the watch stream and calls the control plane's listener; {@code configsync-etcd-*} keeps
 * the lease alive and writes node and aggregate updates. {@link #save} and {@link #history} call
 * etcd on the caller's thread; {@link #remote}, {@link #usageByReplica} and {@link #unavailable}
 * never block. {@link #close()} stops both threads and revokes the lease (the replica's nodes
 * vanish from the fleet at once).
 *
 * <p><b>Inside.</b> This class is a facade over three package-private parts, each with its own
 * threading rule: {@code EtcdSession} (the etcd client, health, lease, the two threads and the
 * watch), {@code SharedConfig} (the configuration: compare-and-set publishes, history, what the
 * watch hands over) and {@code SharedFleet} (data planes, usage and aggregates). See {@code
 * docs/concurrency.md}.
 */
public final class EtcdConfigStore implements ConfigStore, FleetDirectory {
  /** How many publish history entries are kept in etcd. */
  static final int HISTORY_KEPT = PublishLog.HISTORY_KEPT;

  /** The aggregate under which replicas share their usage figures (see {@link #shareUsage}). */
  static final String USAGE_AGGREGATE = SharedFleet.USAGE_AGGREGATE;

  private final EtcdSession session;
  private final SharedConfig config;
  private final SharedFleet fleet;

  private EtcdConfigStore(EtcdSettings settings, int chunkBytes) {
    this.session = new EtcdSession(settings);
    this.config = new SharedConfig(session, chunkBytes);
    this.fleet = new SharedFleet(session);
    session.add(fleet);
    session.add(config);
  }

  /** A builder; {@link Builder#endpoints} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /** This replica's name in etcd keys. */
  public String replicaName() {
    return session.settings().replica();
  }

  // ---- ConfigStore -----------------------------------------------------------------------------

  /**
   * Reads the stored configuration from etcd.
   *
   * @throws IOException when no etcd member answers within the request timeout; a control plane
   *     does not start without knowing the fleet's configuration
   */
  @Override
  public Optional<byte[]> load() throws IOException {
    return config.load();
  }

  @Override
  public void save(byte[] payload, String hash) throws IOException {
    long unused = save(payload, hash, config.knownHash());
  }

  /** etcd's revision of the configuration {@link #load} returned, 0 when etcd held none. */
  @Override
  public long loadedRevision() {
    return config.loadedRevision();
  }

  /**
   * Writes the configuration in one compare-and-set transaction, with its entry in the publish
   * history ({@code <prefix>history/<revision it replaces>}, so that exactly one write can replace
   * a given revision, and whether this one did can be read back after a lost answer). A copy of
   * this transaction that etcd applied without a clear answer counts as this publish: the answer is
   * then its revision, never a conflict with itself.
   *
   * @return etcd's revision of the write
   * @throws ConfigConflictException when another write replaced the expected configuration
   * @throws ConfigOutcomeUnknownException when the transaction was sent, got no answer, and etcd
   *     could not be asked afterwards whether it was applied
   */
  @Override
  public long save(byte[] payload, String hash, @Nullable String expectedPreviousHash)
      throws IOException {
    return config.save(payload, hash, expectedPreviousHash, null);
  }

  /**
   * As {@link #save(byte[], String, String)}, with the change in the same transaction (under {@code
   * <prefix>changes/<revision it replaces>}, the newest 16 kept) when it is at most 512 KiB; the
   * other replicas' listeners get it with the configuration.
   */
  @Override
  public long save(
      byte[] payload, String hash, @Nullable String expectedPreviousHash, byte @Nullable [] delta)
      throws IOException {
    return config.save(payload, hash, expectedPreviousHash, delta);
  }

  /**
   * The publish history as etcd holds it (every replica answers the same), newest first: one entry
   * per configuration written by a publish, with etcd's revision of the write, when and by which
   * replica. The newest {@value #HISTORY_KEPT} are kept.
   */
  @Override
  public Optional<List<ConfigVersion>> history(int limit) throws IOException {
    return Optional.of(config.history(limit));
  }

  @Override
  public void watch(Listener listener) {
    config.watch(listener);
    session.start();
  }

  @Override
  public Optional<String> unavailable() {
    return session.unavailable();
  }

  @Override
  public String describe() {
    return session.describe();
  }

  // ---- FleetDirectory --------------------------------------------------------------------------

  @Override
  public void start(Supplier<List<DataPlaneInfo>> local) {
    fleet.start(local);
    session.start();
  }

  @Override
  public List<DataPlaneInfo> remote() {
    return fleet.remote();
  }

  /**
   * Shares this replica's usage figures through the aggregate {@code cp-usage}: read from {@code
   * local} once per {@link Builder#flushInterval}, and written only when they changed, so that a
   * replica writes them at most once per interval however many batches its data planes send.
   */
  @Override
  public void shareUsage(Supplier<UsageReport> local) {
    fleet.shareUsage(local);
    session.start();
  }

  /**
   * This replica's usage as {@code local} returns it now, and every other replica's as last written
   * to etcd (from memory, kept current by the watch), by replica name; empty before {@link
   * #shareUsage}. A value that cannot be read (written by an incompatible version) is left out.
   */
  @Override
  public Map<String, UsageReport> usageByReplica() {
    return fleet.usageByReplica();
  }

  /**
   * A per-replica aggregate shared with every replica under {@code name} (for example usage
   * counters): see {@link SharedAggregate}. The same object is returned for the same name.
   *
   * @throws IllegalArgumentException when {@code name} is blank or contains {@code /}
   */
  public SharedAggregate aggregate(String name) {
    if (name == null || name.isBlank() || name.contains("/")) {
      throw new IllegalArgumentException("aggregate name must be non-blank without '/': " + name);
    }
    session.start();
    return fleet.aggregate(name);
  }

  // ---- for tests -------------------------------------------------------------------------------

  /** The replicas whose lease is alive, by name, with what each last wrote about itself. */
  Map<String, JsonNode> liveReplicas() {
    return session.liveReplicas();
  }

  /** How many times the whole prefix was read (start, and after a compaction). For tests. */
  int reloads() {
    return session.reloads();
  }

  /** How many node-update transactions were written. For tests. */
  int nodeWrites() {
    return fleet.nodeWrites();
  }

  /**
   * Stops the store's threads and revokes its lease, so that this replica's data planes leave the
   * fleet view at once. Idempotent.
   */
  @Override
  public void close() {
    session.close();
  }

  /**
   * Settings of an {@link EtcdConfigStore}. Every setter checks its argument at once and throws
   * {@link IllegalArgumentException} naming the setting.
   */
  public static final class Builder {
    private List<URI> endpoints = List.of();
    private String prefix = "/configsync/";
    private String replicaName = defaultReplicaName();
    private Duration leaseTtl = Duration.ofSeconds(10);
    private Duration requestTimeout = Duration.ofSeconds(2);
    private Duration flushInterval = Duration.ofSeconds(1);
    private Duration unavailableAfter = Duration.ofSeconds(5);
    private @Nullable SSLContext ssl;
    private int chunkBytes = SharedConfig.CHUNK_BYTES;

    private Builder() {}

    /** The largest value written in one request (tests use small ones); default 512 KiB. */
    Builder chunkBytes(int bytes) {
      require(bytes >= 1024, "chunkBytes must be at least 1024: " + bytes);
      this.chunkBytes = bytes;
      return this;
    }

    /**
     * The client URLs of the etcd members ({@code http://host:2379}, or {@code https://} with
     * {@link #sslContext}); required. List every member: a call goes to another one when one cannot
     * be reached.
     */
    public Builder endpoints(List<URI> endpoints) {
      Objects.requireNonNull(endpoints, "endpoints");
      require(!endpoints.isEmpty(), "endpoints must list at least one etcd member");
      for (URI e : endpoints) {
        require(
            e != null
                && ("http".equals(e.getScheme()) || "https".equals(e.getScheme()))
                && e.getHost() != null
                && (e.getPath() == null || e.getPath().isEmpty() || e.getPath().equals("/")),
            "endpoints must be etcd client URLs like http://10.0.0.1:2379, got: " + e);
      }
      this.endpoints = List.copyOf(endpoints);
      return this;
    }

    /**
     * The key prefix under which everything is kept; default {@code /configsync/}. Give each
     * control plane (each fleet) sharing one etcd cluster its own prefix.
     */
    public Builder prefix(String prefix) {
      require(
          prefix != null && !prefix.isBlank() && prefix.endsWith("/"),
          "prefix must be non-blank and end with '/': " + prefix);
      this.prefix = prefix;
      return this;
    }

    /**
     * This replica's name, unique among the replicas of one control plane; default this machine's
     * host name. Used in keys and logs.
     */
    public Builder replicaName(String name) {
      require(
          name != null && name.matches("[A-Za-z0-9._:-]{1,128}"),
          "replicaName must be 1 to 128 letters, digits or . _ : -, got: " + name);
      this.replicaName = name;
      return this;
    }

    /**
     * How long a crashed replica's data planes stay listed; default 10 s. The lease is renewed
     * every third of it. etcd enforces a minimum (about 1.5 x its election timeout).
     */
    public Builder leaseTtl(Duration ttl) {
      require(ttl != null && ttl.toSeconds() >= 2, "leaseTtl must be at least 2 s: " + ttl);
      this.leaseTtl = ttl;
      return this;
    }

    /**
     * The longest one etcd call may take, over every member tried; default 2 s. A publish waits at
     * most about this long for etcd.
     */
    public Builder requestTimeout(Duration timeout) {
      require(
          timeout != null && timeout.toMillis() >= 100,
          "requestTimeout must be at least 100 ms: " + timeout);
      this.requestTimeout = timeout;
      return this;
    }

    /**
     * How often changes to this replica's data planes and aggregates are written; default 1 s.
     * Bounds the write rate: at most one round of writes per interval, whatever the fleet does.
     */
    public Builder flushInterval(Duration interval) {
      require(
          interval != null && interval.toMillis() >= 10,
          "flushInterval must be at least 10 ms: " + interval);
      this.flushInterval = interval;
      return this;
    }

    /**
     * How long etcd may go without answering this replica, counted from its last answer, before the
     * replica reports itself degraded and refuses publishes; default 5 s (longer than an etcd
     * leader election). Must be longer than {@link #requestTimeout} ({@link #build} checks): a
     * single call that fails after {@code requestTimeout} would otherwise make the replica degraded
     * at once.
     */
    public Builder unavailableAfter(Duration after) {
      require(
          after != null && !after.isNegative(), "unavailableAfter must not be negative: " + after);
      this.unavailableAfter = after;
      return this;
    }

    /**
     * TLS for {@code https://} endpoints, as a ready {@link SSLContext} (its trust managers check
     * etcd's certificates, its key managers present this replica's client certificate); default
     * none: the JDK's default trust store, no client certificate. The host name in each endpoint is
     * checked against etcd's certificate. See {@link #tls(Path, Path, Path)} for PEM files.
     */
    public Builder sslContext(SSLContext context) {
      this.ssl = Objects.requireNonNull(context, "sslContext");
      return this;
    }

    /**
     * TLS for {@code https://} endpoints from PEM files, read once, now: trusts only the CA
     * certificates in {@code caFile} for etcd's server certificates (etcd's {@code
     * --trusted-ca-file} issuer), and presents the certificate chain in {@code certFile} with the
     * unencrypted key in {@code keyFile}, for etcd's {@code --client-cert-auth}. The host name in
     * each endpoint is checked against etcd's certificate. Replaces {@link #sslContext}.
     *
     * @throws IllegalArgumentException naming the file that cannot be read, or when the key does
     *     not match the certificate
     */
    public Builder tls(Path caFile, Path certFile, Path keyFile) {
      Objects.requireNonNull(caFile, "caFile");
      Objects.requireNonNull(certFile, "certFile");
      Objects.requireNonNull(keyFile, "keyFile");
      this.ssl = EtcdTls.context(caFile, certFile, keyFile);
      return this;
    }

    /**
     * TLS for {@code https://} endpoints without a client certificate (etcd without {@code
     * --client-cert-auth}): trusts only the CA certificates in {@code caFile}, read once, now.
     *
     * @throws IllegalArgumentException when the file cannot be read
     */
    public Builder tls(Path caFile) {
      this.ssl = EtcdTls.context(Objects.requireNonNull(caFile, "caFile"), null, null);
      return this;
    }

    /**
     * Builds the store. It contacts etcd only when the control plane loads from it.
     *
     * @throws IllegalStateException when {@link #endpoints} was not set, when TLS is set and an
     *     endpoint is not {@code https://}, or when {@link #unavailableAfter} is not longer than
     *     {@link #requestTimeout}
     */
    public EtcdConfigStore build() {
      if (endpoints.isEmpty()) {
        throw new IllegalStateException(
            "endpoints is required: endpoints(List.of(URI.create(\"http://etcd-1:2379\"), ...))");
      }
      if (ssl != null) {
        for (URI e : endpoints) {
          if (!"https".equals(e.getScheme())) {
            throw new IllegalStateException(
                "TLS is set for etcd but endpoint "
                    + e
                    + " is not https://: list every member's https:// client URL");
          }
        }
      }
      if (unavailableAfter.compareTo(requestTimeout) <= 0) {
        throw new IllegalStateException(
            "unavailableAfter ("
                + unavailableAfter
                + ") must be longer than requestTimeout ("
                + requestTimeout
                + "), or one etcd call that times out makes the replica degraded at once: raise"
                + " unavailableAfter or lower requestTimeout");
      }
      return new EtcdConfigStore(
          new EtcdSettings(
              endpoints,
              prefix,
              replicaName,
              leaseTtl,
              requestTimeout,
              flushInterval,
              unavailableAfter,
              ssl),
          chunkBytes);
    }

    private static String defaultReplicaName() {
      try {
        String host = InetAddress.getLocalHost().getHostName();
        return host.matches("[A-Za-z0-9._:-]{1,128}") ? host : "replica";
      } catch (UnknownHostException e) {
        return "replica";
      }
    }

    private static void require(boolean ok, String message) {
      if (!ok) {
        throw new IllegalArgumentException(message);
      }
    }
  }
}
