package dev.configsync.backup.s3;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.URI;
import java.time.Duration;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.params.ParameterizedTest;
import org.junit.jupiter.params.provider.ValueSource;
import software.amazon.awssdk.regions.Region;
import software.amazon.awssdk.services.s3.S3Client;

/** The builder and the key layout; nothing here reaches a network. */
class S3BackupStoreBuilderTest {
  // Never contacted: these tests only build stores and compute keys.
  private static final URI ENDPOINT = URI.create("http://127.0.0.1:9");

  @Test
  void keysArePrefixVersionFileName() {
    try (S3BackupStore store = local().build()) {
      assertThat(store.key("3.9")).isEqualTo("configsync/3.9/config.json.gz");
    }
    try (S3BackupStore store = local().prefix("/fleet/eu-west-1/").build()) {
      assertThat(store.key("3.10")).isEqualTo("fleet/eu-west-1/3.10/config.json.gz");
      assertThat(store.describe()).isEqualTo("s3://bucket/fleet/eu-west-1/ at " + ENDPOINT);
    }
    try (S3BackupStore store = local().prefix("").build()) {
      assertThat(store.key("3.9")).isEqualTo("3.9/config.json.gz");
    }
  }

  @ParameterizedTest
  @ValueSource(strings = {"", "..", "3.9/../x", "3.9-beta", "/3.9", "3..9", "a"})
  void versionsThatAreNotDigitsAndDotsAreRefusedBeforeAnyCall(String version) {
    try (S3BackupStore store = local().build()) {
      assertThatThrownBy(() -> store.key(version))
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("digits separated by dots");
      assertThatThrownBy(() -> store.put(version, new byte[] {1}))
          .isInstanceOf(IllegalArgumentException.class);
      assertThatThrownBy(() -> store.get(version)).isInstanceOf(IllegalArgumentException.class);
    }
  }

  @Test
  void onAwsTheDescriptionIsTheBucketAndPrefix() {
    try (S3BackupStore store =
        S3BackupStore.builder()
            .bucket("my-bucket")
            .region("eu-west-1")
            .credentials("AKIAEXAMPLE", "secret")
            .build()) {
      assertThat(store.describe()).isEqualTo("s3://my-bucket/configsync/");
    }
  }

  @Test
  void nothingShowsTheCredentials() {
    try (S3BackupStore store =
        local().credentials("AKIAEXAMPLEKEYID0001", "very-secret-access-key").build()) {
      assertThat(store.toString() + store.describe())
          .doesNotContain("AKIAEXAMPLEKEYID0001")
          .doesNotContain("very-secret-access-key");
    }
  }

  @Test
  void settingsAreCheckedWithMessagesNamingThem() {
    assertThatThrownBy(() -> S3BackupStore.builder().endpoint(ENDPOINT).build())
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("bucket is required");
    assertThatThrownBy(() -> S3BackupStore.builder().bucket("a/b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("bucket");
    assertThatThrownBy(() -> S3BackupStore.builder().bucket(" "))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(() -> S3BackupStore.builder().prefix("a//b"))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("prefix");
    assertThatThrownBy(
            () -> S3BackupStore.builder().endpoint(URI.create("http://key:hunter2@minio:9000")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("must not contain credentials")
        .hasMessageNotContaining("hunter2");
    assertThatThrownBy(() -> S3BackupStore.builder().endpoint(URI.create("ftp://minio:21")))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("http or https");
    assertThatThrownBy(() -> S3BackupStore.builder().credentials("", "x"))
        .isInstanceOf(IllegalArgumentException.class);
    assertThatThrownBy(
            () ->
                S3BackupStore.builder()
                    .timeouts(Duration.ZERO, Duration.ofSeconds(1), Duration.ofSeconds(1)))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("connect timeout");
  }

  @Test
  void aClientOfTheUsersOwnExcludesClientSettings() {
    try (S3Client client =
        S3Client.builder().region(Region.US_EAST_1).endpointOverride(ENDPOINT).build()) {
      assertThatThrownBy(
              () -> S3BackupStore.builder().bucket("b").client(client).endpoint(ENDPOINT).build())
          .isInstanceOf(IllegalStateException.class)
          .hasMessageContaining("client(...) excludes");
      assertThatThrownBy(
              () -> S3BackupStore.builder().bucket("b").client(client).region("eu-west-1").build())
          .isInstanceOf(IllegalStateException.class);
      S3BackupStore store = S3BackupStore.builder().bucket("b").client(client).build();
      assertThat(store.key("3.9")).isEqualTo("configsync/3.9/config.json.gz");
      assertThat(store.describe()).isEqualTo("s3://b/configsync/");
    }
  }

  private static S3BackupStore.Builder local() {
    return S3BackupStore.builder()
        .bucket("bucket")
        .endpoint(ENDPOINT)
        .credentials("S3RVER", "S3RVER");
  }
}
