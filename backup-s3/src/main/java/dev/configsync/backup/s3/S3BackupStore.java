package dev.configsync.backup.s3;

import static dev.configsync.internal.BuilderChecks.requireArgument;
import static dev.configsync.internal.BuilderChecks.requirePositive;

import dev.configsync.AtRestEncryption;
import dev.configsync.DecryptionException;
import dev.configsync.internal.StoredPayloads;
import dev.configsync.spi.BackupStore;
import java.io.IOException;
import java.io.InputStream;
import java.net.URI;
import java.time.Duration;
import java.util.Objects;
import java.util.Optional;
import org.jspecify.annotations.Nullable;
import software.amazon.awssdk.auth.credentials.AwsBasicCredentials;
import software.amazon.awssdk.auth.credentials.AwsCredentialsProvider;
import software.amazon.awssdk.auth.credentials.DefaultCredentialsProvider;
import software.amazon.awssdk.auth.credentials.StaticCredentialsProvider;
import software.amazon.awssdk.core.ResponseInputStream;
import software.amazon.awssdk.core.checksums.RequestChecksumCalculation;
import software.amazon.awssdk.core.checksums.ResponseChecksumValidation;
import software.amazon.awssdk.core.exception.SdkException;
import software.amazon.awssdk.core.sync.RequestBody;
import software.amazon.awssdk.http.urlconnection.UrlConnectionHttpClient;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;
import software.amazon.awssdk.services.s3.S3ClientBuilder;
import software.amazon.awssdk.services.s3.S3Configuration;
import software.amazon.awssdk.services.s3.model.GetObjectRequest;
import software.amazon.awssdk.services.s3.model.GetObjectResponse;
import software.amazon.awssdk.services.s3.model.PutObjectRequest;
import software.amazon.awssdk.services.s3.model.S3Exception;

/**
 * A {@link BackupStore} in an Amazon S3 bucket or an S3-compatible object store (MinIO, Ceph RGW,
 * s3rver...). The copy for version {@code V} is the object {@code <prefix>/<V>/config.json.gz}, for
 * example {@code s3://my-bucket/configsync/3.9/config.json.gz}: the gzip {@code reconfigure}
 * payload, byte for byte as the control plane sent it. A put replaces the object whole (S3 never
 * shows a partly written object); the last put wins.
 *
 * <pre>{@code
 * // On AWS: region and credentials from the default chains (environment, profile, instance role).
 * S3BackupStore store = S3BackupStore.builder().bucket("my-bucket").build();
 *
 * // An S3-compatible store: path-style access, region us-east-1 unless set.
 * S3BackupStore store = S3BackupStore.builder()
 *     .bucket("configsync-backups")
 *     .endpoint(URI.create("http://minio.internal:9000"))
 *     .credentials(accessKeyId, secretAccessKey)
 *     .build();
 *
 * // Or a client of your own, configured as you like (see the note on chunked encoding).
 * S3BackupStore store = S3BackupStore.builder().bucket("my-bucket").client(s3Client).build();
 * }</pre>
 *
 * <p>A client built by this class uses the SDK's URL-connection HTTP client, disables {@code
 * aws-chunked} request bodies ({@code S3Configuration.chunkedEncodingEnabled(false)}: some
 * S3-compatible servers, s3rver among them, store such a body verbatim, chunk headers included, so
 * a download returns more bytes than were uploaded) and, for a custom endpoint, sends and checks
 * the SDK's extra CRC checksums only where the operation requires them, which many S3-compatible
 * servers do not understand. Integrity does not rest on them: an imported copy is checked against
 * its configuration hash before use.
 *
 * <p>Encryption at rest (optional, {@link Builder#encryption}): objects are then uploaded encrypted
 * with the current key ({@link AtRestEncryption}: AES-256-GCM, the key id in a header; content type
 * {@code application/octet-stream}) and downloaded copies decrypted with the current or an old key.
 * A copy that cannot be decrypted makes {@link #get} throw a {@link DecryptionException}; an
 * unencrypted copy is still accepted (it is checked against its hash like any import), and an
 * encrypted one is refused by a store without encryption. This is independent of S3's own
 * server-side encryption, which protects the disks of the object store but not the object from
 * anyone allowed to read the bucket.
 *
 * <p>Errors are {@link IOException}s whose message names the operation, the bucket, the key, the
 * HTTP status and the S3 error code; they never contain credentials. Thread-safe.
 */
public final class S3BackupStore implements BackupStore, AutoCloseable {
  /** The key prefix unless {@link Builder#prefix} says otherwise. */
  public static final String DEFAULT_PREFIX = "configsync";

  /** The name of the object under each version's prefix. */
  public static final String FILE_NAME = "config.json.gz";

  /**
   * The largest copy {@link #put} writes and {@link #get} returns: 64 MiB (an encrypted object may
   * be {@link AtRestEncryption#OVERHEAD} bytes larger).
   */
  public static final long MAX_BYTES = 64L * 1024 * 1024;

  private final S3Client s3;
  private final boolean ownsClient;
  private final String bucket;
  private final String prefix;
  private final @Nullable URI endpoint;
  private final @Nullable AtRestEncryption encryption;
  private final long maxObjectBytes;

  private S3BackupStore(
      S3Client s3,
      boolean ownsClient,
      String bucket,
      String prefix,
      @Nullable URI endpoint,
      @Nullable AtRestEncryption encryption) {
    this.s3 = s3;
    this.ownsClient = ownsClient;
    this.bucket = bucket;
    this.prefix = prefix;
    this.endpoint = endpoint;
    this.encryption = encryption;
    this.maxObjectBytes = MAX_BYTES + (encryption == null ? 0 : AtRestEncryption.OVERHEAD);
  }

  /** A builder; {@link Builder#bucket} is required. */
  public static Builder builder() {
    return new Builder();
  }

  /**
   * The object key of the copy for {@code version}: {@code <prefix>/<version>/config.json.gz}.
   *
   * @throws IllegalArgumentException when {@code version} is not digits separated by dots
   */
  public String key(String version) {
    BackupStore.requireVersion(version);
    return prefix + version + "/" + FILE_NAME;
  }

  /**
   * Uploads {@code payload} as the copy for {@code version}, replacing the previous one; encrypted
   * with the current key when the store has encryption.
   *
   * @throws IOException when the upload fails (bucket, key, status and error code in the message)
   */
  @Override
  public void put(String version, byte[] payload) throws IOException {
    String key = key(version);
    if (payload.length > MAX_BYTES) {
      throw new IOException(
          "Refusing to upload a "
              + payload.length
              + "-byte backup to "
              + location(key)
              + ": the limit is "
              + MAX_BYTES);
    }
    byte[] stored = StoredPayloads.seal(encryption, payload);
    PutObjectRequest request =
        PutObjectRequest.builder()
            .bucket(bucket)
            .key(key)
            .contentType(encryption == null ? "application/gzip" : "application/octet-stream")
            .contentLength((long) stored.length)
            .build();
    try {
      s3.putObject(request, RequestBody.fromBytes(stored));
    } catch (SdkException e) {
      throw failure("put", key, e);
    }
  }

  /**
   * Downloads the copy for {@code version} (decrypted when it is encrypted), or returns empty when
   * there is no such object.
   *
   * @throws DecryptionException when the copy cannot be decrypted (see the class comment); the
   *     message names the object and the key id
   * @throws IOException when the bucket does not exist or cannot be read, the copy is over {@value
   *     #MAX_BYTES} bytes, or the download fails (bucket, key and status in the message)
   */
  @Override
  public Optional<byte[]> get(String version) throws IOException {
    String key = key(version);
    Optional<byte[]> stored = download(key);
    if (stored.isEmpty()) {
      return stored;
    }
    return Optional.of(StoredPayloads.open(encryption, stored.get(), location(key)).payload());
  }

  private Optional<byte[]> download(String key) throws IOException {
    GetObjectRequest request = GetObjectRequest.builder().bucket(bucket).key(key).build();
    try (ResponseInputStream<GetObjectResponse> in = s3.getObject(request)) {
      Long length = in.response().contentLength();
      if (length != null && length > maxObjectBytes) {
        in.abort(); // do not drain the rest of a huge object just to reuse the connection
        throw tooLarge(key, length);
      }
      return Optional.of(readBounded(in, key));
    } catch (S3Exception e) {
      if (e.statusCode() == 404 && !"NoSuchBucket".equals(errorCode(e))) {
        return Optional.empty();
      }
      throw failure("get", key, e);
    } catch (SdkException e) {
      throw failure("get", key, e);
    }
  }

  /** {@code s3://bucket/prefix/}, and the endpoint when one was set; never credentials. */
  @Override
  public String describe() {
    return location(prefix);
  }

  /** Closes the S3 client if this store built it; a client given to the builder stays open. */
  @Override
  public void close() {
    if (ownsClient) {
      s3.close();
    }
  }

  @Override
  public String toString() {
    return "S3BackupStore[" + describe() + "]";
  }

  private byte[] readBounded(InputStream in, String key) throws IOException {
    byte[] bytes;
    try {
      bytes = in.readNBytes((int) maxObjectBytes + 1);
    } catch (IOException e) {
      throw new IOException(
          "S3 get of " + location(key) + " failed while reading the body: " + e.getMessage(), e);
    }
    if (bytes.length > maxObjectBytes) {
      throw tooLarge(key, bytes.length);
    }
    return bytes;
  }

  private IOException tooLarge(String key, long length) {
    return new IOException(
        location(key)
            + " is "
            + length
            + " bytes, more than the limit of "
            + maxObjectBytes
            + "; that is not a configsync backup: delete or replace it");
  }

  private IOException failure(String operation, String key, SdkException e) {
    StringBuilder message =
        new StringBuilder("S3 ").append(operation).append(" of ").append(location(key));
    message.append(" failed: ");
    if (e instanceof S3Exception s3e) {
      message.append("HTTP ").append(s3e.statusCode());
      String code = errorCode(s3e);
      if (code != null) {
        message.append(' ').append(code);
      }
      String detail = s3e.awsErrorDetails() == null ? null : s3e.awsErrorDetails().errorMessage();
      if (detail != null && !detail.isBlank()) {
        message.append(": ").append(detail);
      }
      if ("NoSuchBucket".equals(code)) {
        message.append(" (create the bucket, or fix the bucket name)");
      }
      String requestId = s3e.requestId();
      if (requestId != null && !requestId.isBlank()) {
        message.append(" (request id ").append(requestId).append(')');
      }
    } else {
      String detail = e.getMessage();
      message.append(detail == null ? e.getClass().getSimpleName() : detail);
    }
    return new IOException(message.toString(), e);
  }

  private static @Nullable String errorCode(S3Exception e) {
    return e.awsErrorDetails() == null ? null : e.awsErrorDetails().errorCode();
  }

  /** {@code s3://bucket/key}, and the endpoint when one was set. */
  private String location(String key) {
    return "s3://" + bucket + "/" + key + (endpoint == null ? "" : " at " + endpoint);
  }

  /**
   * Builds an {@link S3BackupStore}: a bucket, and either an {@link S3Client} of your own or the
   * settings of one to build (endpoint, region, credentials).
   */
  public static final class Builder {
    private @Nullable String bucket;
    private String prefix = DEFAULT_PREFIX;
    private @Nullable S3Client client;
    private @Nullable URI endpoint;
    private @Nullable Region region;
    private @Nullable AwsCredentialsProvider credentials;
    private @Nullable Boolean pathStyle;
    private Duration connectTimeout = Duration.ofSeconds(5);
    private Duration readTimeout = Duration.ofSeconds(30);
    private Duration callTimeout = Duration.ofSeconds(60);
    private @Nullable AtRestEncryption encryption;

    private Builder() {}

    /**
     * Encrypts uploaded copies with {@code encryption}'s current key and decrypts downloaded ones
     * with any of its keys (see the class comment). Default: copies are stored unencrypted.
     */
    public Builder encryption(AtRestEncryption encryption) {
      this.encryption = Objects.requireNonNull(encryption, "encryption");
      return this;
    }

    /** The bucket. Required. */
    public Builder bucket(String bucket) {
      Objects.requireNonNull(bucket, "bucket");
      requireArgument(
          !bucket.isBlank() && !bucket.contains("/") && bucket.strip().equals(bucket),
          "bucket must be a bucket name, without slashes or spaces, got: \"" + bucket + "\"");
      this.bucket = bucket;
      return this;
    }

    /**
     * The key prefix, without leading or trailing slashes (they are removed); empty puts the
     * version directories at the top of the bucket. Default {@value #DEFAULT_PREFIX}.
     */
    public Builder prefix(String prefix) {
      Objects.requireNonNull(prefix, "prefix");
      String trimmed = prefix.replaceAll("^/+|/+$", "");
      requireArgument(
          !trimmed.contains("//") && trimmed.strip().equals(trimmed),
          "prefix must not contain empty path segments or surrounding spaces, got: \""
              + prefix
              + "\"");
      this.prefix = trimmed;
      return this;
    }

    /**
     * Uses {@code client} for every call. The store does not close it, and does not change its
     * settings: for an S3-compatible server, build it with {@code
     * S3Configuration.builder().chunkedEncodingEnabled(false).pathStyleAccessEnabled(true)}.
     * Excludes {@link #endpoint}, {@link #region} and the credentials.
     */
    public Builder client(S3Client client) {
      this.client = Objects.requireNonNull(client, "client");
      return this;
    }

    /**
     * The endpoint of an S3-compatible server, such as {@code http://127.0.0.1:9000}. Implies
     * path-style access unless {@link #pathStyleAccess} says otherwise. Must not carry credentials:
     * use {@link #credentials}. Default: AWS's endpoint for the region.
     */
    public Builder endpoint(URI endpoint) {
      Objects.requireNonNull(endpoint, "endpoint");
      requireArgument(
          endpoint.getUserInfo() == null,
          "endpoint must not contain credentials; use credentials(accessKeyId, secretAccessKey)");
      requireArgument(
          ("http".equals(endpoint.getScheme()) || "https".equals(endpoint.getScheme()))
              && endpoint.getHost() != null,
          "endpoint must be an http or https URL with a host, got: " + endpoint);
      this.endpoint = endpoint;
      return this;
    }

    /**
     * The region, such as {@code eu-west-1}. Default: {@code us-east-1} with a custom endpoint,
     * otherwise the SDK's default chain ({@code AWS_REGION}, the profile, instance metadata).
     */
    public Builder region(String region) {
      Objects.requireNonNull(region, "region");
      requireArgument(!region.isBlank(), "region must not be blank");
      this.region = Region.of(region);
      return this;
    }

    /** A fixed access key. Default: the SDK's default credentials chain. */
    public Builder credentials(String accessKeyId, String secretAccessKey) {
      Objects.requireNonNull(accessKeyId, "accessKeyId");
      Objects.requireNonNull(secretAccessKey, "secretAccessKey");
      requireArgument(
          !accessKeyId.isBlank() && !secretAccessKey.isBlank(),
          "accessKeyId and secretAccessKey must not be blank");
      this.credentials =
          StaticCredentialsProvider.create(
              AwsBasicCredentials.create(accessKeyId, secretAccessKey));
      return this;
    }

    /** Any credentials provider (a profile, a role to assume...). */
    public Builder credentialsProvider(AwsCredentialsProvider provider) {
      this.credentials = Objects.requireNonNull(provider, "credentialsProvider");
      return this;
    }

    /**
     * Whether to address the bucket in the path ({@code http://host/bucket/key}) rather than the
     * host name. Default: true with a custom {@link #endpoint}, false on AWS.
     */
    public Builder pathStyleAccess(boolean enabled) {
      this.pathStyle = enabled;
      return this;
    }

    /**
     * Time limits of a client built here: to connect, to wait for data on a connection, and for a
     * whole call with its retries. Default 5 s, 30 s, 60 s.
     */
    public Builder timeouts(Duration connect, Duration read, Duration call) {
      requirePositive(connect, "connect timeout");
      requirePositive(read, "read timeout");
      requirePositive(call, "call timeout");
      this.connectTimeout = connect;
      this.readTimeout = read;
      this.callTimeout = call;
      return this;
    }

    /**
     * Builds the store, and its S3 client unless one was given.
     *
     * @throws IllegalStateException when the bucket is missing, a client was given together with
     *     client settings, or no region can be found
     */
    public S3BackupStore build() {
      String b = bucket;
      if (b == null) {
        throw new IllegalStateException("bucket is required: call bucket(\"my-bucket\")");
      }
      String keyPrefix = prefix.isEmpty() ? "" : prefix + "/";
      S3Client given = client;
      if (given != null) {
        if (endpoint != null || region != null || credentials != null || pathStyle != null) {
          throw new IllegalStateException(
              "client(...) excludes endpoint, region, credentials and pathStyleAccess: configure"
                  + " those on the S3Client itself");
        }
        return new S3BackupStore(given, false, b, keyPrefix, null, encryption);
      }
      return new S3BackupStore(buildClient(), true, b, keyPrefix, endpoint, encryption);
    }

    private S3Client buildClient() {
      URI uri = endpoint;
      S3ClientBuilder builder =
          S3Client.builder()
              .httpClientBuilder(
                  UrlConnectionHttpClient.builder()
                      .connectionTimeout(connectTimeout)
                      .socketTimeout(readTimeout))
              .overrideConfiguration(o -> o.apiCallTimeout(callTimeout))
              .serviceConfiguration(
                  S3Configuration.builder()
                      // s3rver and others store an aws-chunked body verbatim: never send one.
                      .chunkedEncodingEnabled(false)
                      .pathStyleAccessEnabled(pathStyle != null ? pathStyle : uri != null)
                      .build())
              .credentialsProvider(
                  credentials != null ? credentials : DefaultCredentialsProvider.builder().build());
      if (uri != null) {
        builder
            .endpointOverride(uri)
            .requestChecksumCalculation(RequestChecksumCalculation.WHEN_REQUIRED)
            .responseChecksumValidation(ResponseChecksumValidation.WHEN_REQUIRED);
      }
      if (region != null) {
        builder.region(region);
      } else if (uri != null) {
        builder.region(Region.US_EAST_1);
      }
      try {
        return builder.build();
      } catch (SdkException e) {
        throw new IllegalStateException(
            "cannot build the S3 client: "
                + e.getMessage()
                + (region == null ? " (set region(...) or AWS_REGION)" : ""),
            e);
      }
    }
  }
}
