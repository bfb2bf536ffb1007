package dev.configsync.agent;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import java.util.concurrent.TimeUnit;
import okhttp3.tls.HandshakeCertificates;
import okhttp3.tls.HeldCertificate;
import org.bouncycastle.jce.provider.BouncyCastleProvider;
import org.bouncycastle.openssl.PKCS8Generator;
import org.bouncycastle.openssl.jcajce.JcaPKCS8Generator;
import org.bouncycastle.openssl.jcajce.JceOpenSSLPKCS8EncryptorBuilder;
import org.bouncycastle.util.io.pem.PemWriter;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/** The agent's TLS flags: cluster modes, encrypted keys and their passphrases. */
class AgentTlsTest {
  @TempDir Path dir;

  private final List<TestControlPlane> controlPlanes = new ArrayList<>();
  private final List<RunningAgent> agents = new ArrayList<>();

  @AfterEach
  void stopEverything() throws Exception {
    for (RunningAgent agent : agents) {
      agent.stopIfRunning();
    }
    controlPlanes.forEach(TestControlPlane::close);
  }

  private static String encryptedKey(HeldCertificate held, String passphrase) throws Exception {
    StringWriter out = new StringWriter();
    try (PemWriter writer = new PemWriter(out)) {
      writer.writeObject(
          new JcaPKCS8Generator(
                  held.keyPair().getPrivate(),
                  new JceOpenSSLPKCS8EncryptorBuilder(PKCS8Generator.AES_256_CBC)
                      .setProvider(new BouncyCastleProvider())
                      .setPassword(passphrase.toCharArray())
                      .build())
              .generate());
    }
    return out.toString();
  }

  private Path write(String name, String content, String mode) throws IOException {
    Path file = Files.writeString(dir.resolve(name), content, StandardCharsets.UTF_8);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString(mode));
    return file;
  }

  private List<String> args(TestControlPlane cp, String... tls) {
    List<String> args =
        new ArrayList<>(
            List.of(
                "run",
                "--control-plane",
                "wss://127.0.0.1:" + cp.port(),
                "--cache-dir",
                dir.resolve("cache").toString(),
                "--reconnect-min",
                "100ms",
                "--reconnect-max",
                "200ms"));
    args.addAll(List.of(tls));
    return args;
  }

  @Test
  void encryptedKeyWithAPassphraseFileConnects() throws Exception {
    TestPki pki = TestPki.create();
    TestControlPlane cp = TestControlPlane.start(pki);
    controlPlanes.add(cp);
    String hash = cp.publish("{\"services\":[]}");
    HeldCertificate dp = pki.issue("dp-encrypted", Duration.ofDays(1));
    Path cert = write("dp.crt", dp.certificatePem(), "rw-r--r--");
    Path key = write("dp.key", encryptedKey(dp, "pässword"), "rw-------");
    Path ca = write("ca.crt", pki.ca().certificatePem(), "rw-r--r--");
    // Written as 'echo pässword > dp.pass' would: the newline is not part of it.
    Path passphrase = write("dp.pass", "pässword\n", "r--------");

    RunningAgent agent =
        new RunningAgent(
            args(
                cp,
                "--cert",
                cert.toString(),
                "--key",
                key.toString(),
                "--key-passphrase-file",
                passphrase.toString(),
                "--ca",
                ca.toString()));
    agents.add(agent);
    await()
        .until(() -> agent.hasEvent("snapshot_applied", e -> e.path("hash").asText().equals(hash)));
    assertThat(cp.connectedNodes())
        .extracting(TestControlPlane.NodeInfo::clientCertificateSubject)
        .containsExactly("CN=dp-encrypted");
    assertThat(agent.stop()).isEqualTo(AgentMain.EXIT_OK);
  }

  @Test
  void encryptedKeyWithoutOrWithAWrongPassphraseExitsWith2() throws Exception {
    TestPki pki = TestPki.create();
    HeldCertificate dp = pki.issue("dp", Duration.ofDays(1));
    Path cert = write("dp.crt", dp.certificatePem(), "rw-r--r--");
    Path key = write("dp.key", encryptedKey(dp, "right"), "rw-------");
    Path ca = write("ca.crt", pki.ca().certificatePem(), "rw-r--r--");
    List<String> base =
        List.of(
            "run",
            "--control-plane",
            "wss://127.0.0.1:9",
            "--cache-dir",
            dir.resolve("cache").toString(),
            "--cert",
            cert.toString(),
            "--key",
            key.toString(),
            "--ca",
            ca.toString());

    BadArgumentsTest.Result none = BadArgumentsTest.run(base);
    assertThat(none.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(none.err())
        .contains("--key: " + key + ": the private key is encrypted and no passphrase was given")
        .contains("--key-passphrase-file");

    List<String> wrong = new ArrayList<>(base);
    wrong.addAll(
        List.of("--key-passphrase-file", write("wrong.pass", "wrong\n", "rw-------").toString()));
    BadArgumentsTest.Result refused = BadArgumentsTest.run(wrong);
    assertThat(refused.exit()).isEqualTo(AgentMain.EXIT_USAGE);
    assertThat(refused.err())
        .contains("--key: " + key + ": cannot decrypt the private key: the passphrase is wrong");
    assertThat(refused.out()).isEmpty();

    List<String> empty = new ArrayList<>(base);
    empty.addAll(
        List.of("--key-passphrase-file", write("empty.pass", "\n", "rw-------").toString()));
    assertThat(BadArgumentsTest.run(empty).err()).contains("empty.pass is empty");
  }

  /**
   * A real agent process (its logs are on its stderr), in shared mode: no --ca, a key file others
   * can read (a warning, not a refusal), and the key's passphrase in an environment variable.
   */
  @Test
  void sharedModeInAChildProcessWarnsAboutALooseKeyFile() throws Exception {
    HeldCertificate cluster = new HeldCertificate.Builder().commonName("kong_clustering").build();
    TestControlPlane cp =
        TestControlPlane.start(
            new HandshakeCertificates.Builder()
                .heldCertificate(cluster)
                .addTrustedCertificate(cluster.certificate())
                .build());
    controlPlanes.add(cp);
    String hash = cp.publish("{\"services\":[{\"name\":\"shared\"}]}");
    Path cert = write("cluster.crt", cluster.certificatePem(), "rw-r--r--");
    Path key = write("cluster.key", encryptedKey(cluster, "s3cret"), "rw-r--r--");

    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.add("-cp");
    command.add(System.getProperty("java.class.path"));
    command.add(AgentMain.class.getName());
    command.addAll(
        args(
            cp,
            "--cluster-mode",
            "shared",
            "--cert",
            cert.toString(),
            "--key",
            key.toString(),
            "--key-passphrase-env",
            "CONFIGSYNC_TEST_KEY_PASSPHRASE"));
    Path stderr = dir.resolve("agent.err");
    ProcessBuilder builder = new ProcessBuilder(command).redirectError(stderr.toFile());
    builder.environment().put("CONFIGSYNC_TEST_KEY_PASSPHRASE", "s3cret");
    Process process = builder.start();
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
    try {
      await()
          .atMost(Duration.ofSeconds(60))
          .until(
              () ->
                  !process.isAlive()
                      || lines.stream()
                          .anyMatch(l -> l.contains("snapshot_applied") && l.contains(hash)));
      assertThat(process.isAlive()).as(Files.readString(stderr)).isTrue();
      assertThat(cp.connectedNodes())
          .extracting(TestControlPlane.NodeInfo::clientCertificateSubject)
          .containsExactly("CN=kong_clustering");
      assertThat(Files.readString(stderr))
          .containsOnlyOnce(
              "WARN TlsConfig - "
                  + key
                  + ": the private key file is accessible to group or others (mode 0644); run"
                  + " 'chmod 600 "
                  + key
                  + "' so that only its owner can read it");
    } finally {
      process.destroy(); // SIGTERM: a clean stop
      if (!process.waitFor(30, TimeUnit.SECONDS)) {
        process.destroyForcibly();
      }
    }
    assertThat(process.exitValue()).as(Files.readString(stderr)).isEqualTo(AgentMain.EXIT_OK);
  }
}
