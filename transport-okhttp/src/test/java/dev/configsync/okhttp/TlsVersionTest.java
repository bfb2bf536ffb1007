package dev.configsync.okhttp;

import static dev.configsync.okhttp.TestPki.ca;
import static dev.configsync.okhttp.TestPki.leafEc;
import static dev.configsync.okhttp.TestPki.write;
import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SnapshotSource;
import dev.configsync.SyncEvent;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import okhttp3.tls.HeldCertificate;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * The transport never speaks TLS below 1.2. JDK 17 cannot run a TLS 1.1 server in this JVM (its
 * {@code jdk.tls.disabledAlgorithms} turns TLS 1.0 and 1.1 off for the whole process), so the
 * server runs in a child JVM with that restriction lifted, and proves it speaks TLS 1.1 before the
 * node dials it.
 */
class TlsVersionTest {
  @TempDir Path dir;

  @Test
  void aControlPlaneOfferingOnlyTls11IsRefusedWithAClearReason() throws Exception {
    HeldCertificate ca = ca("cp-ca");
    HeldCertificate server = leafEc("old-control-plane", ca);
    HeldCertificate client = leafEc("dp", ca);
    Path security =
        write(
            dir,
            "tls11.security",
            "jdk.tls.disabledAlgorithms=SSLv3, RC4, DES, MD5withRSA, DH keySize < 1024,"
                + " EC keySize < 224, 3DES_EDE_CBC, anon, NULL\n");
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-Djava.security.properties=" + security);
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(Tls11Server.class.getName());
    command.add(write(dir, "server.crt", server.certificatePem()).toString());
    command.add(write(dir, "server.key", server.privateKeyPkcs8Pem()).toString());
    Process process =
        new ProcessBuilder(command).redirectError(dir.resolve("server.err").toFile()).start();
    List<String> lines = new CopyOnWriteArrayList<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(
                      new InputStreamReader(process.getInputStream(), StandardCharsets.UTF_8))) {
                in.lines().forEach(lines::add);
              } catch (IOException e) {
                lines.add("READ FAILED " + e);
              }
            });
    reader.setDaemon(true);
    reader.start();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () -> lines.stream().anyMatch(l -> l.startsWith("LISTENING")) || !process.isAlive());
      assertThat(lines)
          .as(Files.readString(dir.resolve("server.err")))
          .contains("SELF-CHECK TLSv1.1");
      int port =
          Integer.parseInt(
              lines.stream()
                  .filter(l -> l.startsWith("LISTENING "))
                  .findFirst()
                  .orElseThrow()
                  .substring("LISTENING ".length()));

      Path fallback = write(dir, "fallback.json", "{\"services\":[]}");
      try (ConfigSyncClient node =
          ConfigSyncClient.builder()
              .controlPlane(URI.create("wss://127.0.0.1:" + port))
              .transport(
                  OkHttpTransport.create(
                      TlsConfig.pkiFromPem(
                          client.certificatePem(),
                          client.privateKeyPkcs8Pem(),
                          ca.certificatePem())))
              .fallbackConfig(fallback)
              .reconnectDelay(Duration.ofSeconds(5), Duration.ofSeconds(10))
              .onEvent(events::add)
              .build()) {
        node.start();
        await().until(() -> events.stream().anyMatch(SyncEvent.Disconnected.class::isInstance));
        String reason =
            events.stream()
                .filter(SyncEvent.Disconnected.class::isInstance)
                .map(e -> ((SyncEvent.Disconnected) e).reason())
                .findFirst()
                .orElseThrow();
        assertThat(reason)
            .startsWith("SSLException: TLS with the control plane at 127.0.0.1:" + port + " failed")
            .contains("the control plane does not offer TLS 1.2 or 1.3")
            .contains("configsync never uses older versions");
        assertThat(node.isServing()).isTrue();
        assertThat(node.current().orElseThrow().source()).isEqualTo(SnapshotSource.FALLBACK);
      }
      // The server saw a client that offered TLS 1.3 and 1.2 only, and accepted no connection but
      // its own self-check.
      await().until(() -> lines.stream().anyMatch(l -> l.startsWith("REFUSED")));
      assertThat(lines)
          .filteredOn(l -> l.startsWith("REFUSED"))
          .singleElement()
          .asString()
          .contains("client supported protocol versions [TLSv1.3, TLSv1.2]");
      assertThat(lines)
          .filteredOn(l -> l.startsWith("ACCEPTED"))
          .containsExactly("ACCEPTED TLSv1.1");
    } finally {
      process.getOutputStream().close();
      if (!process.waitFor(10, java.util.concurrent.TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
  }
}
