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
import java.util.UUID;
import org.jspecify.annotations.Nullable;
import org.springframework.boot.context.properties.ConfigurationProperties;
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
  private final Tls tls = new Tls();

  /** The on-disk cache of the running configuration and the node identity. */
  private final Cache cache = new Cache();

  /** Backup copies of the configuration, for nodes that start while the control plane is down. */
  private final Backup backup = new Backup();

  /** Licensing: every configuration must carry a license signed with this key. */
  private final License license = new License();

  /** What the node reports about itself. */
  private final Node node = new Node();

  /** Reconnect delay after a failed or lost connection. */
  private final Reconnect reconnect = new Reconnect();

  /** Usage telemetry sent to the control plane. */
  private final Usage usage = new Usage();

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

  /** Mutual TLS to the control plane. */
  public static class Tls {
    /**
     * pki: this node's own certificate, and a CA to trust for the control plane's; shared: one
     * certificate and key shared by the control plane and every node (Kong's cluster_cert).
     */
    private String mode = "pki";

    /** This node's certificate chain (PEM), the leaf first. Required. */
    private @Nullable Path cert;

    /** The private key of the certificate (PEM; RSA or EC; may be encrypted). Required. */
    private @Nullable Path key;

    /** The passphrase of an encrypted private key. */
    private @Nullable String keyPassphrase;

    /** The CA certificates (PEM) to trust for the control plane. Required in pki mode. */
    private @Nullable Path ca;

    /**
     * The name expected in the control plane's certificate, when it differs from the host dialled.
     */
    private @Nullable String serverName;

    public String getMode() {
      return mode;
    }

    public void setMode(String mode) {
      this.mode = mode;
    }

    public @Nullable Path getCert() {
      return cert;
    }

    public void setCert(@Nullable Path cert) {
      this.cert = cert;
    }

    public @Nullable Path getKey() {
      return key;
    }

    public void setKey(@Nullable Path key) {
      this.key = key;
    }

    public @Nullable String getKeyPassphrase() {
      return keyPassphrase;
    }

    public void setKeyPassphrase(@Nullable String keyPassphrase) {
      this.keyPassphrase = keyPassphrase;
    }

    public @Nullable Path getCa() {
      return ca;
    }

    public void setCa(@Nullable Path ca) {
      this.ca = ca;
    }

    public @Nullable String getServerName() {
      return serverName;
    }

    public void setServerName(@Nullable String serverName) {
      this.serverName = serverName;
    }
  }

  /** The on-disk cache. */
  public static class Cache {
    /**
     * Where config.json.gz and node.id are kept. Without it the node forgets its configuration when
     * it stops and gets a new identity on every start.
     */
    private @Nullable Path directory;

    /** The largest cache file read back. */
    private DataSize maxSize = DataSize.ofMegabytes(64);

    /** A file holding the 32-byte key that encrypts the cache at rest (AES-256-GCM). */
    private @Nullable Path encryptionKeyFile;

    /**
     * The name of an environment variable holding the encryption key (base64 or hex), instead of a
     * file.
     */
    private @Nullable String encryptionKeyEnv;

    /** Key files of earlier keys, so that a cache written before a key rotation can be read. */
    private List<Path> oldEncryptionKeyFiles = new ArrayList<>();

    public @Nullable Path getDirectory() {
      return directory;
    }

    public void setDirectory(@Nullable Path directory) {
      this.directory = directory;
    }

    public DataSize getMaxSize() {
      return maxSize;
    }

    public void setMaxSize(DataSize maxSize) {
      this.maxSize = maxSize;
    }

    public @Nullable Path getEncryptionKeyFile() {
      return encryptionKeyFile;
    }

    public void setEncryptionKeyFile(@Nullable Path encryptionKeyFile) {
      this.encryptionKeyFile = encryptionKeyFile;
    }

    public @Nullable String getEncryptionKeyEnv() {
      return encryptionKeyEnv;
    }

    public void setEncryptionKeyEnv(@Nullable String encryptionKeyEnv) {
      this.encryptionKeyEnv = encryptionKeyEnv;
    }

    public List<Path> getOldEncryptionKeyFiles() {
      return oldEncryptionKeyFiles;
    }

    public void setOldEncryptionKeyFiles(List<Path> oldEncryptionKeyFiles) {
      this.oldEncryptionKeyFiles = oldEncryptionKeyFiles;
    }
  }

  /** Backups in a directory (a shared volume); encrypted with the cache's key when it has one. */
  public static class Backup {
    /** Where to copy the running configuration (only one from the control plane). */
    private @Nullable Path exportDirectory;

    /**
     * Where to seed from when the node starts with no configuration and its first connection fails.
     */
    private @Nullable Path importDirectory;

    /** The least time between two backup exports. */
    private Duration exportDelay = Duration.ofSeconds(60);

    public @Nullable Path getExportDirectory() {
      return exportDirectory;
    }

    public void setExportDirectory(@Nullable Path exportDirectory) {
      this.exportDirectory = exportDirectory;
    }

    public @Nullable Path getImportDirectory() {
      return importDirectory;
    }

    public void setImportDirectory(@Nullable Path importDirectory) {
      this.importDirectory = importDirectory;
    }

    public Duration getExportDelay() {
      return exportDelay;
    }

    public void setExportDelay(Duration exportDelay) {
      this.exportDelay = exportDelay;
    }
  }

  /** Licensing. */
  public static class License {
    /** The Ed25519 public key (PEM text, BEGIN PUBLIC KEY) that signs licenses. */
    private @Nullable String publicKey;

    /** A file holding that public key, instead of the text. */
    private @Nullable Path publicKeyFile;

    /** How long before expiry the LicenseExpiring event is published. */
    private Duration warning = Duration.ofDays(30);

    public @Nullable String getPublicKey() {
      return publicKey;
    }

    public void setPublicKey(@Nullable String publicKey) {
      this.publicKey = publicKey;
    }

    public @Nullable Path getPublicKeyFile() {
      return publicKeyFile;
    }

    public void setPublicKeyFile(@Nullable Path publicKeyFile) {
      this.publicKeyFile = publicKeyFile;
    }

    public Duration getWarning() {
      return warning;
    }

    public void setWarning(Duration warning) {
      this.warning = warning;
    }
  }

  /** What the node reports about itself. */
  public static class Node {
    /** The node identity; default: the one kept in the cache directory (or a new one). */
    private @Nullable UUID id;

    /** The host name reported; default: this machine's. */
    private @Nullable String hostname;

    /** The version reported, for the control plane's compatibility check. */
    private String version = ConfigSyncClient.VERSION;

    public @Nullable UUID getId() {
      return id;
    }

    public void setId(@Nullable UUID id) {
      this.id = id;
    }

    public @Nullable String getHostname() {
      return hostname;
    }

    public void setHostname(@Nullable String hostname) {
      this.hostname = hostname;
    }

    public String getVersion() {
      return version;
    }

    public void setVersion(String version) {
      this.version = version;
    }
  }

  /** The reconnect delay: uniformly random between the two, drawn anew on every attempt. */
  public static class Reconnect {
    /** The shortest delay before a new connection attempt. */
    private Duration minDelay = Duration.ofSeconds(5);

    /** The longest delay before a new connection attempt. */
    private Duration maxDelay = Duration.ofSeconds(10);

    public Duration getMinDelay() {
      return minDelay;
    }

    public void setMinDelay(Duration minDelay) {
      this.minDelay = minDelay;
    }

    public Duration getMaxDelay() {
      return maxDelay;
    }

    public void setMaxDelay(Duration maxDelay) {
      this.maxDelay = maxDelay;
    }
  }

  /** Usage telemetry. */
  public static class Usage {
    /** Whether requests counted with client.usage() are sent to the control plane. */
    private boolean enabled = true;

    /** Where usage batches go, as wss://host:port[/path]; default: the control plane's address. */
    private @Nullable URI endpoint;

    /** How often counted usage is sent. */
    private Duration flushInterval = Duration.ofSeconds(10);

    /** The most (service, route, consumer) rows in one batch. */
    private int batchSize = 1000;

    /** How many batches are kept until the control plane acknowledges them. */
    private int bufferBatches = 100;

    /** How long a telemetry connection waits for the control plane's ingest_hello. */
    private Duration helloTimeout = Duration.ofSeconds(5);

    /** The most (service, route, consumer) keys counted in memory at once. */
    private int maxKeys = 10_000;

    public boolean isEnabled() {
      return enabled;
    }

    public void setEnabled(boolean enabled) {
      this.enabled = enabled;
    }

    public @Nullable URI getEndpoint() {
      return endpoint;
    }

    public void setEndpoint(@Nullable URI endpoint) {
      this.endpoint = endpoint;
    }

    public Duration getFlushInterval() {
      return flushInterval;
    }

    public void setFlushInterval(Duration flushInterval) {
      this.flushInterval = flushInterval;
    }

    public int getBatchSize() {
      return batchSize;
    }

    public void setBatchSize(int batchSize) {
      this.batchSize = batchSize;
    }

    public int getBufferBatches() {
      return bufferBatches;
    }

    public void setBufferBatches(int bufferBatches) {
      this.bufferBatches = bufferBatches;
    }

    public Duration getHelloTimeout() {
      return helloTimeout;
    }

    public void setHelloTimeout(Duration helloTimeout) {
      this.helloTimeout = helloTimeout;
    }

    public int getMaxKeys() {
      return maxKeys;
    }

    public void setMaxKeys(int maxKeys) {
      this.maxKeys = maxKeys;
    }
  }

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
    if (p.usage.endpoint != null) {
      URI uri = p.usage.endpoint;
      if (!"wss".equalsIgnoreCase(uri.getScheme()) || uri.getHost() == null) {
        errors.rejectValue("usage.endpoint", "invalid", "must be wss://host:port[/path]");
      }
    }
    String mode = p.tls.mode.toLowerCase(Locale.ROOT);
    if (!mode.equals("pki") && !mode.equals("shared")) {
      errors.rejectValue("tls.mode", "invalid", "must be pki or shared, got: " + p.tls.mode);
    }
    readableFile(errors, "tls.cert", p.tls.cert);
    readableFile(errors, "tls.key", p.tls.key);
    readableFile(errors, "tls.ca", p.tls.ca);
    readableFile(errors, "fallbackConfig", p.fallbackConfig);
    readableFile(errors, "cache.encryptionKeyFile", p.cache.encryptionKeyFile);
    for (int i = 0; i < p.cache.oldEncryptionKeyFiles.size(); i++) {
      readableFile(
          errors, "cache.oldEncryptionKeyFiles[" + i + "]", p.cache.oldEncryptionKeyFiles.get(i));
    }
    readableFile(errors, "license.publicKeyFile", p.license.publicKeyFile);
    if (p.license.publicKey != null && p.license.publicKeyFile != null) {
      errors.rejectValue(
          "license.publicKey", "conflict", "give license.public-key or license.public-key-file");
    }
    if (p.cache.encryptionKeyFile != null && p.cache.encryptionKeyEnv != null) {
      errors.rejectValue(
          "cache.encryptionKeyEnv",
          "conflict",
          "give cache.encryption-key-file or cache.encryption-key-env, not both");
    }
    positive(errors, "heartbeatInterval", p.heartbeatInterval);
    positive(errors, "handshakeTimeout", p.handshakeTimeout);
    positive(errors, "cacheWriteTimeout", p.cacheWriteTimeout);
    positive(errors, "backup.exportDelay", p.backup.exportDelay);
    positive(errors, "usage.flushInterval", p.usage.flushInterval);
    positive(errors, "usage.helloTimeout", p.usage.helloTimeout);
    if (p.deadAfter != null) {
      positive(errors, "deadAfter", p.deadAfter);
    }
    Duration dead =
        p.deadAfter != null ? p.deadAfter : p.heartbeatInterval.multipliedBy(3).dividedBy(2);
    if (dead.compareTo(p.heartbeatInterval) <= 0 && p.heartbeatInterval.toNanos() > 0) {
      errors.rejectValue(
          "deadAfter",
          "tooShort",
          "must be longer than heartbeat-interval (" + p.heartbeatInterval + "), got: " + dead);
    }
    if (p.license.warning.isNegative()) {
      errors.rejectValue("license.warning", "negative", "must not be negative");
    }
    if (p.startupWait.isNegative()) {
      errors.rejectValue("startupWait", "negative", "must not be negative");
    }
    if (p.reconnect.minDelay.isNegative()) {
      errors.rejectValue("reconnect.minDelay", "negative", "must not be negative");
    }
    if (p.reconnect.maxDelay.isZero() || p.reconnect.maxDelay.compareTo(p.reconnect.minDelay) < 0) {
      errors.rejectValue(
          "reconnect.maxDelay",
          "invalid",
          "must be positive and at least reconnect.min-delay (" + p.reconnect.minDelay + ")");
    }
    if (p.maxPayload.toBytes() < 1024) {
      errors.rejectValue("maxPayload", "tooSmall", "must be at least 1KB");
    }
    if (p.maxInflated.toBytes() < p.maxPayload.toBytes()) {
      errors.rejectValue("maxInflated", "tooSmall", "must not be below max-payload");
    }
    if (p.cache.maxSize.toBytes() < 1) {
      errors.rejectValue("cache.maxSize", "tooSmall", "must be positive");
    }
    range(errors, "usage.batchSize", p.usage.batchSize, 1, 100_000);
    range(errors, "usage.bufferBatches", p.usage.bufferBatches, 1, 1_000_000);
    range(errors, "usage.maxKeys", p.usage.maxKeys, 1, 10_000_000);
    if (!Versions.isValid(p.node.version)) {
      errors.rejectValue("node.version", "invalid", "must look like MAJOR.MINOR[.PATCH]");
    }
    if (p.node.hostname != null && p.node.hostname.isBlank()) {
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

  public Tls getTls() {
    return tls;
  }

  public Cache getCache() {
    return cache;
  }

  public Backup getBackup() {
    return backup;
  }

  public License getLicense() {
    return license;
  }

  public Node getNode() {
    return node;
  }

  public Reconnect getReconnect() {
    return reconnect;
  }

  public Usage getUsage() {
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
