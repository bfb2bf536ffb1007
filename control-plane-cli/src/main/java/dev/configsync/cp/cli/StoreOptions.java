package dev.configsync.cp.cli;

import static dev.configsync.cp.cli.FlagSettings.setting;
import static dev.configsync.cp.cli.FlagSettings.settingIfGiven;

import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.DirectoryLock;
import dev.configsync.cli.Durations;
import dev.configsync.cli.PemFlags;
import dev.configsync.cp.ConfigStore;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.FileConfigStore;
import dev.configsync.cp.InMemoryConfigStore;
import dev.configsync.cp.etcd.EtcdConfigStore;
import java.io.IOException;
import java.net.URI;
import java.net.URISyntaxException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * The store flags of {@code configsync-cp}: {@code --store DIR} for one control plane, or {@code
 * --etcd-endpoint} and the other {@code --etcd-*} flags for one replica of several. A picocli
 * mixin; read on the command's thread only.
 */
final class StoreOptions {
  /** The lock file in a {@code --store} directory, held while a control plane uses it. */
  static final String LOCK_FILE = "configsync-cp.lock";

  @Option(
      names = "--store",
      paramLabel = "DIR",
      description =
          "Keep the published configuration in DIR/config.json.gz, so that it survives a restart."
              + " Without it (and without --etcd-endpoint) the configuration is kept in memory"
              + " only.")
  @Nullable Path store;

  @Option(
      names = "--etcd-endpoint",
      paramLabel = "URL",
      converter = EtcdUrl.Converter.class,
      description =
          "Run as one replica of a highly available control plane: keep the configuration, the"
              + " fleet and the usage figures in the etcd cluster at URL (a member's client URL,"
              + " http://host:2379 or https://). Repeatable: list every member. Replaces --store.")
  List<URI> etcdEndpoints = new ArrayList<>();

  @Option(
      names = "--etcd-ca",
      paramLabel = "FILE",
      description =
          "The CA certificate(s), PEM, trusted for etcd's certificates (https:// endpoints);"
              + " without it the JDK's trust store is used.")
  @Nullable Path etcdCa;

  @Option(
      names = "--etcd-cert",
      paramLabel = "FILE",
      description =
          "This replica's client certificate chain for etcd, PEM (etcd's --client-cert-auth);"
              + " needs --etcd-key and --etcd-ca.")
  @Nullable Path etcdCert;

  @Option(
      names = "--etcd-key",
      paramLabel = "FILE",
      description = "The private key of --etcd-cert, PEM, unencrypted.")
  @Nullable Path etcdKey;

  @Option(
      names = "--replica-name",
      paramLabel = "NAME",
      description =
          "This replica's name in etcd, unique among the replicas (1 to 128 letters, digits or"
              + " . _ : -); default: this machine's host name. Give one to each replica that"
              + " shares a machine.")
  @Nullable String replicaName;

  @Option(
      names = "--etcd-prefix",
      paramLabel = "PREFIX",
      description =
          "The etcd key prefix, ending with '/' (default /configsync/); one per control plane"
              + " sharing the etcd cluster.")
  @Nullable String etcdPrefix;

  @Option(
      names = "--etcd-lease-ttl",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long a crashed replica's data planes stay listed (default 10s, at least 2s).")
  @Nullable Duration etcdLeaseTtl;

  @Option(
      names = "--etcd-request-timeout",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description = "The longest one etcd call may take, over every member tried (default 2s).")
  @Nullable Duration etcdRequestTimeout;

  @Option(
      names = "--etcd-unavailable-after",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "How long etcd may be unreachable before this replica reports itself degraded and"
              + " refuses publishes (default 5s).")
  @Nullable Duration etcdUnavailableAfter;

  @Option(
      names = "--etcd-flush-interval",
      paramLabel = "DURATION",
      converter = Durations.Converter.class,
      description =
          "At most one round of fleet and usage writes to etcd per interval (default 1s).")
  @Nullable Duration etcdFlushInterval;

  /** The store a {@link #open} gave the builder: its lock, if any, and how to name it. */
  record Opened(@Nullable DirectoryLock lock, String description) {
    /** Gives the store directory's lock back, if one was taken. */
    void release() {
      DirectoryLock l = lock;
      if (l != null) {
        l.close();
      }
    }
  }

  /**
   * Checks that the store flags go together, before any file is read; returns whether the store is
   * etcd.
   */
  boolean check() throws BadArgumentException {
    if (etcdEndpoints.isEmpty()) {
      String etcdOnly =
          etcdCa != null
              ? "--etcd-ca"
              : etcdCert != null
                  ? "--etcd-cert"
                  : etcdKey != null
                      ? "--etcd-key"
                      : replicaName != null
                          ? "--replica-name"
                          : etcdPrefix != null
                              ? "--etcd-prefix"
                              : etcdLeaseTtl != null
                                  ? "--etcd-lease-ttl"
                                  : etcdRequestTimeout != null
                                      ? "--etcd-request-timeout"
                                      : etcdUnavailableAfter != null
                                          ? "--etcd-unavailable-after"
                                          : etcdFlushInterval != null
                                              ? "--etcd-flush-interval"
                                              : null;
      if (etcdOnly != null) {
        throw new BadArgumentException(
            etcdOnly
                + " is for a replica on etcd: add --etcd-endpoint URL (once per etcd member), or"
                + " remove "
                + etcdOnly);
      }
      return false;
    }
    if (store != null) {
      throw new BadArgumentException(
          "--store and --etcd-endpoint contradict each other: with --etcd-endpoint the"
              + " configuration is kept in etcd, shared by every replica; remove --store");
    }
    if (etcdCert != null && etcdKey == null) {
      throw new BadArgumentException(
          "--etcd-cert needs --etcd-key FILE, the private key of that certificate");
    }
    if (etcdKey != null && etcdCert == null) {
      throw new BadArgumentException(
          "--etcd-key needs --etcd-cert FILE, the client certificate it belongs to");
    }
    if (etcdCert != null && etcdCa == null) {
      throw new BadArgumentException(
          "--etcd-cert needs --etcd-ca FILE, the CA that issued etcd's server certificates (etcd's"
              + " --trusted-ca-file)");
    }
    boolean https = etcdEndpoints.stream().anyMatch(u -> "https".equals(u.getScheme()));
    boolean http = etcdEndpoints.stream().anyMatch(u -> "http".equals(u.getScheme()));
    if (https && http) {
      throw new BadArgumentException(
          "--etcd-endpoint: give every member's URL with the same scheme, all http:// or all"
              + " https://, got "
              + etcdEndpoints);
    }
    if (http && etcdCa != null) {
      throw new BadArgumentException(
          "--etcd-ca is for https:// endpoints, but --etcd-endpoint "
              + etcdEndpoints.get(0)
              + " is http://: use etcd's https:// client URLs, or remove --etcd-ca"
              + (etcdCert != null ? ", --etcd-cert and --etcd-key" : ""));
    }
    return true;
  }

  /**
   * Opens the store the flags name and gives it to {@code builder}: etcd (as config store and fleet
   * directory), the {@code --store} directory (locked), or memory.
   *
   * @param etcd what {@link #check()} returned
   * @param maxPayload the largest compressed configuration a file store accepts
   */
  Opened open(ControlPlaneServer.Builder builder, boolean etcd, long maxPayload)
      throws BadArgumentException {
    if (etcd) {
      EtcdConfigStore shared = etcdStore();
      builder.configStore(shared).fleetDirectory(shared);
      return new Opened(null, shared.describe());
    }
    Path dir = store;
    if (dir == null) {
      LoggerFactory.getLogger(ControlPlaneMain.class)
          .warn(
              "No --store: the configuration is kept in memory and is lost when the control plane"
                  + " restarts (nodes keep running theirs, but get nothing new until a publish)");
      builder.configStore(new InMemoryConfigStore());
      return new Opened(null, "in memory (lost on restart)");
    }
    DirectoryLock lock;
    try {
      lock = tryLockStore(dir);
    } catch (IOException e) {
      throw new BadArgumentException("--store " + dir + " cannot be used: " + e.getMessage(), e);
    }
    if (lock == null) {
      throw new BadArgumentException(
          "--store "
              + dir
              + " is in use by another "
              + ControlPlaneMain.NAME
              + " (it holds "
              + dir.resolve(LOCK_FILE)
              + "); run one control plane per store directory");
    }
    try {
      ConfigStore files = FileConfigStore.open(dir, maxPayload);
      builder.configStore(files);
      return new Opened(lock, dir.toAbsolutePath().toString());
    } catch (IOException | RuntimeException e) {
      lock.close();
      throw new BadArgumentException("--store " + dir + " cannot be used: " + e.getMessage(), e);
    }
  }

  /** Creates {@code dir} if missing and locks it; null when another holds it. */
  static @Nullable DirectoryLock tryLockStore(Path dir) throws IOException {
    DirectoryLock.createDirectory(dir);
    return DirectoryLock.tryAcquire(dir, LOCK_FILE);
  }

  /** The etcd store the flags describe; contacts etcd only when the server loads from it. */
  private EtcdConfigStore etcdStore() throws BadArgumentException {
    EtcdConfigStore.Builder b = EtcdConfigStore.builder();
    setting("--etcd-endpoint", () -> b.endpoints(etcdEndpoints));
    settingIfGiven("--replica-name", replicaName, b::replicaName);
    settingIfGiven("--etcd-prefix", etcdPrefix, b::prefix);
    settingIfGiven("--etcd-lease-ttl", etcdLeaseTtl, b::leaseTtl);
    settingIfGiven("--etcd-request-timeout", etcdRequestTimeout, b::requestTimeout);
    settingIfGiven("--etcd-unavailable-after", etcdUnavailableAfter, b::unavailableAfter);
    settingIfGiven("--etcd-flush-interval", etcdFlushInterval, b::flushInterval);
    Path caFile = etcdCa;
    if (caFile != null) {
      Path certFile = etcdCert;
      Path keyFile = etcdKey;
      // Each file checked in its own role first, so that the message names the flag at fault.
      PemFlags.certificates("--etcd-ca", caFile);
      if (certFile != null && keyFile != null) {
        PemFlags.certificates("--etcd-cert", certFile);
        PemFlags.privateKey("--etcd-key", keyFile, null);
        setting("--etcd-cert/--etcd-key", () -> b.tls(caFile, certFile, keyFile));
      } else {
        setting("--etcd-ca", () -> b.tls(caFile));
      }
    }
    try {
      return b.build();
    } catch (IllegalStateException e) {
      throw new BadArgumentException("--etcd-endpoint: " + e.getMessage(), e);
    }
  }

  /** {@code --etcd-endpoint URL}: an etcd member's client URL. */
  static final class EtcdUrl {
    private EtcdUrl() {}

    /** The picocli converter; picocli names the option in its message. */
    static final class Converter implements CommandLine.ITypeConverter<URI> {
      @Override
      public URI convert(String value) {
        URI uri;
        try {
          uri = new URI(value.strip());
        } catch (URISyntaxException e) {
          throw new CommandLine.TypeConversionException(
              "'" + value + "' is not a URL: " + e.getReason());
        }
        if (!("http".equals(uri.getScheme()) || "https".equals(uri.getScheme()))
            || uri.getHost() == null
            || uri.getPort() == -1
            || !(uri.getRawPath() == null
                || uri.getRawPath().isEmpty()
                || uri.getRawPath().equals("/"))
            || uri.getRawQuery() != null
            || uri.getRawFragment() != null
            || uri.getRawUserInfo() != null) {
          throw new CommandLine.TypeConversionException(
              "'"
                  + value
                  + "' is not an etcd client URL such as http://10.0.0.1:2379 or"
                  + " https://etcd-1:2379 (scheme, host and port, nothing else)");
        }
        return uri;
      }
    }
  }
}
