package dev.configsync.spring.boot;

import dev.configsync.AtRestEncryption;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.DirectoryBackupStore;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.micrometer.MicrometerSyncMetrics;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import dev.configsync.spi.ConfigValidator;
import dev.configsync.spi.SnapshotStore;
import dev.configsync.spi.Transport;
import io.micrometer.core.instrument.MeterRegistry;
import java.io.IOException;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.context.ApplicationEventPublisher;

/** Builds the auto-configured transport and client from {@link ConfigSyncProperties}. */
final class ClientFactory {
  private static final String P = ConfigSyncProperties.PREFIX + ".";

  private ClientFactory() {}

  /** The default transport: OkHttp with the TLS material of {@code configsync.tls.*}. */
  static Transport transport(ConfigSyncProperties properties) {
    TlsProperties tls = properties.getTls();
    Path cert = require(tls.getCert(), "tls.cert", "this node's certificate chain (PEM file)");
    Path key = require(tls.getKey(), "tls.key", "the private key of that certificate (PEM file)");
    String passphrase = tls.getKeyPassphrase();
    boolean shared = tls.getMode().toLowerCase(Locale.ROOT).equals("shared");
    Path ca =
        shared ? null : require(tls.getCa(), "tls.ca", "the CA certificates to trust (PEM file)");
    TlsConfig config;
    try {
      if (shared) {
        config =
            passphrase == null
                ? TlsConfig.shared(cert, key)
                : TlsConfig.shared(cert, key, passphrase.toCharArray());
      } else {
        Path trusted = java.util.Objects.requireNonNull(ca);
        config =
            passphrase == null
                ? TlsConfig.pki(cert, key, trusted)
                : TlsConfig.pki(cert, key, trusted, passphrase.toCharArray());
      }
      String serverName = tls.getServerName();
      if (serverName != null) {
        config = config.withServerName(serverName);
      }
    } catch (IllegalArgumentException e) {
      String message = String.valueOf(e.getMessage());
      String property = "tls";
      if (message.contains(key.toString()) || message.contains("passphrase")) {
        property = "tls.key";
      } else if (message.contains(cert.toString())) {
        property = "tls.cert";
      } else if (ca != null && message.contains(ca.toString())) {
        property = "tls.ca";
      }
      throw new InvalidConfigSyncPropertyException(P + property, message, e);
    }
    return OkHttpTransport.create(config);
  }

  static ConfigSyncClient client(
      ConfigSyncProperties p,
      Transport transport,
      @Nullable SnapshotStore userStore,
      List<ConfigValidator> validators,
      @Nullable MeterRegistry registry,
      ApplicationEventPublisher publisher,
      List<ConfigSyncClientCustomizer> customizers) {
    List<URI> controlPlanes = p.getControlPlane();
    if (controlPlanes.isEmpty()) {
      throw new InvalidConfigSyncPropertyException(
          P + "control-plane",
          "is required: the control plane's address, wss://host:port (a list for the replicas of"
              + " a highly available control plane)");
    }
    ConfigSyncClient.Builder builder = ConfigSyncClient.builder();
    setting("control-plane", () -> builder.controlPlanes(controlPlanes));
    builder.transport(transport);

    AtRestEncryption encryption = encryption(p.getCache());
    SnapshotStore store = userStore;
    Path cacheDir = p.getCache().getDirectory();
    if (store == null && cacheDir != null) {
      long max = p.getCache().getMaxSize().toBytes();
      try {
        store =
            encryption == null
                ? FileSnapshotStore.open(cacheDir, max)
                : FileSnapshotStore.open(cacheDir, max, encryption);
      } catch (IOException | RuntimeException e) {
        throw new InvalidConfigSyncPropertyException(
            P + "cache.directory", "cannot be used as the cache: " + e.getMessage(), e);
      }
    }
    if (store != null) {
      builder.snapshotStore(store);
    }
    BackupProperties backup = p.getBackup();
    if (backup.getExportDirectory() != null) {
      builder.backupExport(backupStore(backup.getExportDirectory(), encryption, "export"));
    }
    if (backup.getImportDirectory() != null) {
      builder.backupImport(backupStore(backup.getImportDirectory(), encryption, "import"));
    }
    setting("backup.export-delay", () -> builder.backupExportDelay(backup.getExportDelay()));

    LicenseProperties license = p.getLicense();
    String pem = license.getPublicKey();
    String pemProperty = "license.public-key";
    Path pemFile = license.getPublicKeyFile();
    if (pemFile != null) {
      pemProperty = "license.public-key-file";
      try {
        pem = Files.readString(pemFile, StandardCharsets.US_ASCII);
      } catch (IOException | RuntimeException e) {
        throw new InvalidConfigSyncPropertyException(
            P + pemProperty, "cannot be read: " + e.getMessage(), e);
      }
    }
    if (pem != null) {
      String text = pem;
      setting(pemProperty, () -> builder.licenseKeyPem(text));
    }
    setting("license.warning", () -> builder.licenseWarning(license.getWarning()));

    NodeProperties node = p.getNode();
    if (node.getId() != null) {
      builder.nodeId(node.getId());
    }
    String hostname = node.getHostname();
    if (hostname != null) {
      setting("node.hostname", () -> builder.nodeHostname(hostname));
    }
    setting("node.version", () -> builder.nodeVersion(node.getVersion()));
    for (Map.Entry<String, String> c : p.getCapabilities().entrySet()) {
      setting("capabilities", () -> builder.capability(c.getKey(), c.getValue()));
    }
    for (Map.Entry<String, String> l : p.getLabels().entrySet()) {
      setting("labels", () -> builder.label(l.getKey(), l.getValue()));
    }
    Path fallback = p.getFallbackConfig();
    if (fallback != null) {
      builder.fallbackConfig(fallback);
    }
    setting("heartbeat-interval", () -> builder.heartbeatInterval(p.getHeartbeatInterval()));
    java.time.Duration deadAfter = p.getDeadAfter();
    if (deadAfter != null) {
      setting("dead-after", () -> builder.deadAfter(deadAfter));
    }
    setting(
        "reconnect",
        () ->
            builder.reconnectDelay(p.getReconnect().getMinDelay(), p.getReconnect().getMaxDelay()));
    setting("handshake-timeout", () -> builder.handshakeTimeout(p.getHandshakeTimeout()));
    setting("cache-write-timeout", () -> builder.cacheWriteTimeout(p.getCacheWriteTimeout()));
    setting(
        "cache.journal-records",
        () ->
            builder.cacheJournal(
                p.getCache().getJournalRecords(), p.getCache().getJournalFraction()));
    setting("max-payload", () -> builder.maxPayloadBytes(p.getMaxPayload().toBytes()));
    setting("max-inflated", () -> builder.maxInflatedBytes(p.getMaxInflated().toBytes()));
    builder.reportErrors(p.isReportErrors());

    UsageProperties usage = p.getUsage();
    builder.usageReporting(usage.isEnabled());
    URI endpoint = usage.getEndpoint();
    if (endpoint != null) {
      setting("usage.endpoint", () -> builder.usageEndpoint(endpoint));
    }
    setting("usage.flush-interval", () -> builder.usageFlushInterval(usage.getFlushInterval()));
    setting("usage.batch-size", () -> builder.usageBatchSize(usage.getBatchSize()));
    setting("usage.buffer-batches", () -> builder.usageBufferBatches(usage.getBufferBatches()));
    setting("usage.hello-timeout", () -> builder.usageHelloTimeout(usage.getHelloTimeout()));
    setting("usage.max-keys", () -> builder.usageMaxKeys(usage.getMaxKeys()));

    if (!validators.isEmpty()) {
      List<ConfigValidator> all = List.copyOf(validators);
      builder.validator(
          snapshot -> {
            for (ConfigValidator v : all) {
              v.validate(snapshot);
            }
          });
    }
    if (registry != null) {
      builder.metrics(MicrometerSyncMetrics.of(registry));
    }
    // Both go through the client's one listener thread, one at a time in the order things
    // happened; a synchronous multicaster keeps that order for Spring's listeners.
    builder.onSnapshot(publisher::publishEvent);
    builder.onEvent(publisher::publishEvent);
    for (ConfigSyncClientCustomizer customizer : customizers) {
      customizer.customize(builder);
    }
    try {
      return builder.build();
    } catch (IllegalStateException e) {
      throw new InvalidConfigSyncPropertyException(
          ConfigSyncProperties.PREFIX, String.valueOf(e.getMessage()), e);
    }
  }

  private static @Nullable AtRestEncryption encryption(CacheProperties cache) {
    AtRestEncryption encryption = null;
    Path keyFile = cache.getEncryptionKeyFile();
    String env = cache.getEncryptionKeyEnv();
    if (keyFile != null) {
      encryption = keyed("cache.encryption-key-file", () -> AtRestEncryption.fromKeyFile(keyFile));
    } else if (env != null) {
      encryption = keyed("cache.encryption-key-env", () -> AtRestEncryption.fromEnvironment(env));
    }
    List<Path> old = cache.getOldEncryptionKeyFiles();
    if (!old.isEmpty()) {
      if (encryption == null) {
        throw new InvalidConfigSyncPropertyException(
            P + "cache.old-encryption-key-files",
            "needs the current key too: set cache.encryption-key-file or"
                + " cache.encryption-key-env");
      }
      AtRestEncryption[] olderKeys = new AtRestEncryption[old.size()];
      for (int i = 0; i < olderKeys.length; i++) {
        Path file = old.get(i);
        olderKeys[i] =
            keyed(
                "cache.old-encryption-key-files[" + i + "]",
                () -> AtRestEncryption.fromKeyFile(file));
      }
      encryption = encryption.withOldKeys(olderKeys);
    }
    return encryption;
  }

  private static DirectoryBackupStore backupStore(
      Path directory, @Nullable AtRestEncryption encryption, String which) {
    try {
      return encryption == null
          ? DirectoryBackupStore.open(directory)
          : DirectoryBackupStore.open(directory, encryption);
    } catch (IOException | RuntimeException e) {
      throw new InvalidConfigSyncPropertyException(
          P + "backup." + which + "-directory", "cannot be used: " + e.getMessage(), e);
    }
  }

  private interface KeySource {
    AtRestEncryption load();
  }

  private static AtRestEncryption keyed(String property, KeySource source) {
    try {
      return source.load();
    } catch (RuntimeException e) {
      throw new InvalidConfigSyncPropertyException(P + property, String.valueOf(e.getMessage()), e);
    }
  }

  private static <T> T require(@Nullable T value, String property, String what) {
    if (value == null) {
      throw new InvalidConfigSyncPropertyException(P + property, "is required: " + what);
    }
    return value;
  }

  /** Applies one builder setting; a refusal names the property. */
  private static void setting(String property, Runnable apply) {
    try {
      apply.run();
    } catch (IllegalArgumentException e) {
      if (e instanceof InvalidConfigSyncPropertyException) {
        throw e;
      }
      throw new InvalidConfigSyncPropertyException(P + property, String.valueOf(e.getMessage()), e);
    }
  }
}
