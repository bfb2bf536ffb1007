package dev.configsync.spring.boot;

import dev.configsync.ConfigSyncClient;
import dev.configsync.internal.Versions;
import java.net.URI;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
import org.springframework.boot.context.properties.NestedConfigurationProperty;
import org.springframework.util.unit.DataSize;
import org.springframework.validation.Errors;
import org.springframework.validation.Validator;

/**
 * The {@code configsync.*} properties: every setting of the auto-configured {@link
 * ConfigSyncClient}. Defaults are the client's own. Values are checked when they are bound: a wrong
 * one fails the application's start with a report that names the property. Settings that need other
 * beans or files (TLS material, keys, the cache directory) are checked when the client is built,
 * with an {@link InvalidConfigSyncPropertyException} that names the property.
 *
 * <p>The groups of settings have a class each, bound under their own prefix: {@link TlsProperties}
 * ({@code configsync.tls}), {@link CacheProperties}, {@link BackupProperties}, {@link
 * LicenseProperties}, {@link NodeProperties}, {@link ReconnectProperties} and {@link
 * UsageProperties}. This class holds the rest and checks them all together.
 *
 * <p>Mutable, as Spring Boot binds it; not thread-safe. The client is built from it once.
 */
@ConfigurationProperties(ConfigSyncProperties.PREFIX)
public class ConfigSyncProperties implements Validator {
  /** The prefix of every property. */
  public static final String PREFIX = "configsync";

  /** Whether to auto-configure a client at all. */
  private boolean enabled = true;

  /**
   * The control plane's address as wss://host:port (path /v1/outlet by default); several for the
   * replicas of a highly available control plane. Required.
   */
  private List<URI> controlPlane = new ArrayList<>();

  /** Mutual TLS to the control plane. */
  @NestedConfigurationProperty private final TlsProperties tls = new TlsProperties();

  /** The on-disk cache of the running configuration and the node identity. */
  @NestedConfigurationProperty private final CacheProperties cache = new CacheProperties();

  /** Backup copies of the configuration, for nodes that start while the control plane is down. */
  @NestedConfigurationProperty private final BackupProperties backup = new BackupProperties();

  /** Licensing: every configuration must carry a license signed with this key. */
  @NestedConfigurationProperty private final LicenseProperties license = new LicenseProperties();

  /** What the node reports about itself. */
  @NestedConfigurationProperty private final NodeProperties node = new NodeProperties();

  /** Reconnect delay after a failed or lost connection. */
  @NestedConfigurationProperty
  private final ReconnectProperties reconnect = new ReconnectProperties();

  /** Usage telemetry sent to the control plane. */
  @NestedConfigurationProperty private final UsageProperties usage = new UsageProperties();

  /**
   * A declarative configuration file (JSON, YAML or a config.json.gz payload) to run when start-up
   * finds no valid cache.
   */
  private @Nullable Path fallbackConfig;

  /** Capabilities (Kong calls them plugins) and their versions, reported to the control plane. */
  private Map<String, String> capabilities = new LinkedHashMap<>();

  /** Free-form labels reported to the control plane. */
  private Map<String, String> labels = new LinkedHashMap<>();

  /** How often to ping the control plane. */
  private Duration heartbeatInterval = Duration.ofSeconds(30);

  /**
   * How long the control plane may stay silent before the connection is re-dialled. Default 1.5
   * times the heartbeat interval.
   */
  private @Nullable Duration deadAfter;

  /** The longest a connection attempt (TCP, TLS, upgrade) may take. */
  private Duration handshakeTimeout = Duration.ofSeconds(10);

  /** The longest a new configuration waits for its cache write before it is applied anyway. */
  private Duration cacheWriteTimeout = Duration.ofSeconds(10);

  /** The largest compressed configuration accepted. */
  private DataSize maxPayload = DataSize.ofBytes(ConfigSyncClient.DEFAULT_MAX_PAYLOAD_BYTES);

  /** The largest inflated configuration accepted. */
  private DataSize maxInflated = DataSize.ofBytes(ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES);

  /** Whether to report refused configurations to the control plane (Kong 3.2+ understands it). */
  private boolean reportErrors;

  /**
   * How long the application's start waits for a first configuration from the control plane when it
   * has none from the cache, fallback file or backup; 0 does not wait. The start goes on when the
   * time is up, without a configuration.
   */
  private Duration startupWait = Duration.ZERO;

  // ---- validation, when bound ------------------------------------------------------------------

  @Override
  public boolean supports(Class<?> clazz) {
    return ConfigSyncProperties.class.isAssignableFrom(clazz);
  }

  /**
   * Checks the values given, each on its own and against each other. Field names are the
   * properties' Java names; Spring Boot's failure report shows them under {@code configsync}.
   */
  @Override
  public void validate(Object target, Errors errors) {
    ConfigSyncProperties p = (ConfigSyncProperties) target;
    if (!p.enabled) {
      return;
    }
    for (URI uri : p.controlPlane) {
      String scheme = uri.getScheme() == null ? "" : uri.getScheme().toLowerCase(Locale.ROOT);
      if (!scheme.equals("wss") || uri.getHost() == null) {
        errors.rejectValue(
            "controlPlane", "invalid", "must be wss://host:port (TLS only), got: " + uri);
      }
    }
    URI usageEndpoint = p.usage.getEndpoint();
    if (usageEndpoint != null) {
      URI uri = usageEndpoint;
      if (!"wss".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
        errors.rejectValue("usage.endpoint", "invalid", "must be wss://host:port[/path]");
      }
    }
    String mode = p.tls.getMode().toLowerCase(Locale.ROOT);
    if (!mode.equals("pki") && !mode.equals("shared")) {
      errors.rejectValue("tls.mode", "invalid", "must be pki or shared, got: " + p.tls.getMode());
    }
    readableFile(errors, "tls.cert", p.tls.getCert());
    readableFile(errors, "tls.key", p.tls.getKey());
    readableFile(errors, "tls.ca", p.tls.getCa());
    readableFile(errors, "fallbackConfig", p.fallbackConfig);
    readableFile(errors, "cache.encryptionKeyFile", p.cache.getEncryptionKeyFile());
    for (int i = 0; i < p.cache.getOldEncryptionKeyFiles().size(); i++) {
      readableFile(
          errors,
          "cache.oldEncryptionKeyFiles[" + i + "]",
          p.cache.getOldEncryptionKeyFiles().get(i));
    }
    readableFile(errors, "license.publicKeyFile", p.license.getPublicKeyFile());
    if (p.license.getPublicKey() != null && p.license.getPublicKeyFile() != null) {
      errors.rejectValue(
          "license.publicKey", "conflict", "give license.public-key or license.public-key-file");
    }
    if (p.cache.getEncryptionKeyFile() != null && p.cache.getEncryptionKeyEnv() != null) {
      errors.rejectValue(
          "cache.encryptionKeyEnv",
          "conflict",
          "give cache.encryption-key-file or cache.encryption-key-env, not both");
    }
    positive(errors, "heartbeatInterval", p.heartbeatInterval);
    positive(errors, "handshakeTimeout", p.handshakeTimeout);
    positive(errors, "cacheWriteTimeout", p.cacheWriteTimeout);
    range(errors, "cache.journalRecords", p.cache.getJournalRecords(), 0, Integer.MAX_VALUE);
    double fraction = p.cache.getJournalFraction();
    if (!(fraction > 0 && fraction <= 16)) {
      errors.rejectValue(
          "cache.journalFraction",
          "outOfRange",
          "must be more than 0 and at most 16, got: " + fraction);
    }
    positive(errors, "backup.exportDelay", p.backup.getExportDelay());
    positive(errors, "usage.flushInterval", p.usage.getFlushInterval());
    positive(errors, "usage.helloTimeout", p.usage.getHelloTimeout());
    Duration deadAfter = p.deadAfter;
    if (deadAfter != null) {
      positive(errors, "deadAfter", deadAfter);
    }
    Duration dead =
        deadAfter != null ? deadAfter : p.heartbeatInterval.multipliedBy(3).dividedBy(2);
    if (dead.compareTo(p.heartbeatInterval) <= 0 && p.heartbeatInterval.toNanos() > 0) {
      errors.rejectValue(
          "deadAfter",
          "tooShort",
          "must be longer than heartbeat-interval (" + p.heartbeatInterval + "), got: " + dead);
    }
    if (p.license.getWarning().isNegative()) {
      errors.rejectValue("license.warning", "negative", "must not be negative");
    }
    if (p.startupWait.isNegative()) {
      errors.rejectValue("startupWait", "negative", "must not be negative");
    }
    if (p.reconnect.getMinDelay().isNegative()) {
      errors.rejectValue("reconnect.minDelay", "negative", "must not be negative");
    }
    if (p.reconnect.getMaxDelay().isZero()
        || p.reconnect.getMaxDelay().compareTo(p.reconnect.getMinDelay()) < 0) {
      errors.rejectValue(
          "reconnect.maxDelay",
          "invalid",
          "must be positive and at least reconnect.min-delay (" + p.reconnect.getMinDelay() + ")");
    }
    if (p.maxPayload.toBytes() < 1024) {
      errors.rejectValue("maxPayload", "tooSmall", "must be at least 1KB");
    }
    if (p.maxInflated.toBytes() < p.maxPayload.toBytes()) {
      errors.rejectValue("maxInflated", "tooSmall", "must not be below max-payload");
    }
    if (p.cache.getMaxSize().toBytes() < 1) {
      errors.rejectValue("cache.maxSize", "tooSmall", "must be positive");
    }
    range(errors, "usage.batchSize", p.usage.getBatchSize(), 1, 100_000);
    range(errors, "usage.bufferBatches", p.usage.getBufferBatches(), 1, 1_000_000);
    range(errors, "usage.maxKeys", p.usage.getMaxKeys(), 1, 10_000_000);
    if (!Versions.isValid(p.node.getVersion())) {
      errors.rejectValue("node.version", "invalid", "must look like MAJOR.MINOR[.PATCH]");
    }
    String hostname = p.node.getHostname();
    if (hostname != null && hostname.isBlank()) {
      errors.rejectValue("node.hostname", "blank", "must not be blank");
    }
    for (String name : p.capabilities.keySet()) {
      if (name.isBlank()) {
        errors.rejectValue("capabilities", "blank", "a capability name must not be blank");
      }
    }
  }

  private static void positive(Errors errors, String field, Duration value) {
    if (value.isNegative() || value.isZero()) {
      errors.rejectValue(field, "notPositive", "must be positive, got: " + value);
    }
  }

  private static void range(Errors errors, String field, int value, int min, int max) {
    if (value < min || value > max) {
      errors.rejectValue(field, "outOfRange", "must be " + min + " to " + max + ", got: " + value);
    }
  }

  private static void readableFile(Errors errors, String field, @Nullable Path file) {
    if (file != null && !Files.isReadable(file)) {
      errors.rejectValue(
          field,
          "unreadable",
          Files.exists(file) ? "cannot be read: " + file : "no such file: " + file);
    }
  }

  // ---- accessors
  // ---------------------------------------------------------------------------------

  public boolean isEnabled() {
    return enabled;
  }

  public void setEnabled(boolean enabled) {
    this.enabled = enabled;
  }

  public List<URI> getControlPlane() {
    return controlPlane;
  }

  public void setControlPlane(List<URI> controlPlane) {
    this.controlPlane = controlPlane;
  }

  public TlsProperties getTls() {
    return tls;
  }

  public CacheProperties getCache() {
    return cache;
  }

  public BackupProperties getBackup() {
    return backup;
  }

  public LicenseProperties getLicense() {
    return license;
  }

  public NodeProperties getNode() {
    return node;
  }

  public ReconnectProperties getReconnect() {
    return reconnect;
  }

  public UsageProperties getUsage() {
    return usage;
  }

  public @Nullable Path getFallbackConfig() {
    return fallbackConfig;
  }

  public void setFallbackConfig(@Nullable Path fallbackConfig) {
    this.fallbackConfig = fallbackConfig;
  }

  public Map<String, String> getCapabilities() {
    return capabilities;
  }

  public void setCapabilities(Map<String, String> capabilities) {
    this.capabilities = capabilities;
  }

  public Map<String, String> getLabels() {
    return labels;
  }

  public void setLabels(Map<String, String> labels) {
    this.labels = labels;
  }

  public Duration getHeartbeatInterval() {
    return heartbeatInterval;
  }

  public void setHeartbeatInterval(Duration heartbeatInterval) {
    this.heartbeatInterval = heartbeatInterval;
  }

  public @Nullable Duration getDeadAfter() {
    return deadAfter;
  }

  public void setDeadAfter(@Nullable Duration deadAfter) {
    this.deadAfter = deadAfter;
  }

  public Duration getHandshakeTimeout() {
    return handshakeTimeout;
  }

  public void setHandshakeTimeout(Duration handshakeTimeout) {
    this.handshakeTimeout = handshakeTimeout;
  }

  public Duration getCacheWriteTimeout() {
    return cacheWriteTimeout;
  }

  public void setCacheWriteTimeout(Duration cacheWriteTimeout) {
    this.cacheWriteTimeout = cacheWriteTimeout;
  }

  public DataSize getMaxPayload() {
    return maxPayload;
  }

  public void setMaxPayload(DataSize maxPayload) {
    this.maxPayload = maxPayload;
  }

  public DataSize getMaxInflated() {
    return maxInflated;
  }

  public void setMaxInflated(DataSize maxInflated) {
    this.maxInflated = maxInflated;
  }

  public boolean isReportErrors() {
    return reportErrors;
  }

  public void setReportErrors(boolean reportErrors) {
    this.reportErrors = reportErrors;
  }

  public Duration getStartupWait() {
    return startupWait;
  }

  public void setStartupWait(Duration startupWait) {
    this.startupWait = startupWait;
  }
}
