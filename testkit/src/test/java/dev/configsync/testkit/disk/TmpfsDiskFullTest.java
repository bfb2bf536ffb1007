package dev.configsync.testkit.disk;

import static dev.configsync.testkit.disk.DiskFaultTest.config;
import static dev.configsync.testkit.disk.DiskFaultTest.hashOf;
import static dev.configsync.testkit.disk.DiskFaultTest.temporaryFiles;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Optional;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Assumptions;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The same disk-full case as {@link DiskFaultTest}, on a real, small tmpfs that the kernel fills:
 * {@code ENOSPC} from Linux itself rather than from an injected file system. Mounting needs root
 * (or {@code CAP_SYS_ADMIN}); where it is refused the test is skipped, saying so, and {@link
 * DiskFaultTest} still covers the behaviour.
 */
class TmpfsDiskFullTest {
  @TempDir Path dir;

  private final TestPki pki = TestPki.create();
  private TestControlPlane cp;
  private ConfigSyncClient client;
  private Path mountPoint;
  private boolean mounted;

  @BeforeEach
  void mountSmallTmpfs() throws Exception {
    mountPoint = Files.createDirectories(dir.resolve("tmpfs"));
    // 64 KiB: the cache directory with node.id and a small configuration fits, a 200 KiB one
    // does not.
    Result result = run("mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "configsync-test", "");
    Assumptions.assumeTrue(
        result.status == 0,
        () ->
            "cannot mount a tmpfs here ("
                + result.output
                + "); DiskFaultTest covers a full disk with an injected file system");
    mounted = true;
  }

  @AfterEach
  void unmount() throws Exception {
    if (client != null) {
      client.close();
    }
    if (cp != null) {
      cp.close();
    }
    if (mounted) {
      Result result = run("umount", mountPoint.toString());
      assertThat(result.status).as("umount: " + result.output).isZero();
    }
  }

  @Test
  void aTmpfsThatFillsUpKeepsThePreviousCacheAndTheNodeServing() throws Exception {
    cp = TestControlPlane.start(pki);
    Path cacheDir = mountPoint.resolve("cache");
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    client =
        ConfigSyncClient.builder()
            .controlPlane(cp.uri())
            .transport(OkHttpTransport.create(pki.dataPlaneTls()))
            .snapshotStore(FileSnapshotStore.open(cacheDir))
            .heartbeatInterval(Duration.ofMillis(200))
            .deadAfter(Duration.ofMillis(300))
            .reconnectDelay(Duration.ofMillis(100), Duration.ofMillis(200))
            .handshakeTimeout(Duration.ofSeconds(5))
            .onEvent(events::add)
            .build();
    String small = cp.publish(config("small", 1000));
    client.start();
    awaitRunning(small);
    byte[] cachedSmall = Files.readAllBytes(cacheDir.resolve("config.json.gz"));
    assertThat(hashOf(cachedSmall)).isEqualTo(small);

    String big = cp.publish(config("big", 200 * 1024));

    await().until(() -> failedFor(events, big).isPresent());
    assertThat(failedFor(events, big).get().reason()).contains("No space left on device");
    awaitRunning(big); // applied anyway
    assertThat(client.isServing()).isTrue();
    assertThat(Files.readAllBytes(cacheDir.resolve("config.json.gz"))).isEqualTo(cachedSmall);
    assertThat(temporaryFiles(cacheDir)).isEmpty();

    // Space returns (the tmpfs grows): the next configuration is cached.
    Result grown = run("mount", "-o", "remount,size=4m", "");
    assertThat(grown.status).as("remount: " + grown.output).isZero();
    String next = cp.publish(config("next", 200 * 1024));

    awaitRunning(next);
    await()
        .until(
            () ->
                events.stream()
                    .anyMatch(e -> e instanceof SyncEvent.CacheWritten w && w.hash().equals(next)));
    assertThat(hashOf(Files.readAllBytes(cacheDir.resolve("config.json.gz")))).isEqualTo(next);
    assertThat(failedFor(events, next)).isEmpty();
    assertThat(temporaryFiles(cacheDir)).isEmpty();
  }

  private void awaitRunning(String hash) {
    await()
        .until(() -> client.current().map(ConfigSnapshot::hash), h -> h.equals(Optional.of(hash)));
  }

  private static Optional<SyncEvent.CacheWriteFailed> failedFor(
      List<SyncEvent> events, String hash) {
    return events.stream()
        .filter(e -> e instanceof SyncEvent.CacheWriteFailed f && f.hash().equals(hash))
        .map(SyncEvent.CacheWriteFailed.class::cast)
        .findFirst();
  }

  private record Result(int status, String output) {}

  /** Runs a command; an empty last argument stands for the mount point. */
  private Result run(String... command) throws Exception {
    String[] args = command.clone();
    if (args[args.length - 1].isEmpty()) {
      args[args.length - 1] = mountPoint.toString();
    }
    Process process;
    try {
      process = new ProcessBuilder(args).redirectErrorStream(true).start();
    } catch (IOException e) {
      return new Result(-1, e.toString());
    }
    process.getOutputStream().close();
    String output = new String(process.getInputStream().readAllBytes(), StandardCharsets.UTF_8);
    if (!process.waitFor(30, TimeUnit.SECONDS)) {
      process.destroyForcibly();
      return new Result(-1, String.join(" ", args) + " did not finish");
    }
    return new Result(process.exitValue(), output.strip());
  }
}
