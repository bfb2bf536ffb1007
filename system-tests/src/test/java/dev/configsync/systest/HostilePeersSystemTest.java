package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.nio.charset.StandardCharsets;
import java.util.HexFormat;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.UUID;
import java.util.concurrent.ExecutionException;
import java.util.function.Predicate;
import org.assertj.core.api.SoftAssertions;
import org.junit.jupiter.api.Test;

/**
 * Probes of issue 15, part 7, against the real {@code configsync-cp} jar: plaintext carrying the
 * admin bearer token sent to the data-plane port by mistake, a {@code node_version} holding
 * terminal escape sequences, a plugin version holding a newline and a whole forged log line. They
 * must change nothing (the configuration in force, a good node still served) and put nothing into
 * the control plane's log that an attacker chose: not the token, not an escape character, not a
 * line of their own.
 */
class HostilePeersSystemTest extends SystemTest {
  private static final String PLUGIN = "rate-limiting";

  /** A whole log line, short enough (with {@code "1.0\n"}) for a plugin version's length cap. */
  private static final String FORGED = "2026-01-01T00:00:00.000Z WARN X - FORGED";

  @Test
  void hostileProbesChangeNothingAndPutNothingOfTheirsIntoTheLog() throws Exception {
    ControlPlaneProcess cp = controlPlane("cp", "--capability", PLUGIN + "=3.9.0");
    AgentProcess good = agent("good", cp, "--capability", PLUGIN + "=3.9.0");
    String before =
        cp.admin()
            .publishOk(
                Configs.withPlugin(Configs.base("before", "http://127.0.0.1:9/"), PLUGIN)
                    .toString());
    good.awaitApplied(before, PATIENCE);

    // 1. An operator's script sends plain HTTP, with the admin token, to the data-plane port.
    plaintextWithToken(cp);

    // 2. A node_version with terminal escapes (it passes MAJOR.MINOR[...]), of another major.
    HostileNode escapes = tryConnect(cp, "escapes", "9.0.0-\u001b[2J\u001b[31mred", Map.of());
    // 3. A node_version with a newline and a forged line.
    HostileNode newline = tryConnect(cp, "newline-version", "0.1.0\n" + FORGED, Map.of());
    // 4. A plugin version with a newline and a forged line: the plugin's major differs from the
    // control plane's, so the reason for withholding would carry the version.
    HostileNode forger = tryConnect(cp, "forger", "0.1.0", Map.of(PLUGIN, "1.0\n" + FORGED));
    // 5. The same with a version far over any sensible length.
    HostileNode longer =
        tryConnect(cp, "forger-long", "0.1.0", Map.of(PLUGIN, "1.0\n" + FORGED + "x".repeat(300)));
    List<HostileNode> hostile = new java.util.ArrayList<>();
    for (HostileNode node : new HostileNode[] {escapes, newline, forger, longer}) {
      if (node != null) {
        hostile.add(node);
      }
    }
    try {
      // A publish afterwards: the control plane has dealt with every probe once the good node
      // runs it, and every hostile node still connected has been offered it (and refused it).
      String after =
          cp.admin()
              .publishOk(
                  Configs.withPlugin(Configs.base("after", "http://127.0.0.1:9/"), PLUGIN)
                      .toString());
      good.awaitApplied(after, PATIENCE);
      if (forger != null) {
        eventually()
            .until(
                () ->
                    forger.isClosed()
                        || Fleet.entryById(cp.admin(), forger.nodeId())
                            .path("sync_status")
                            .asText()
                            .equals("plugin_version_incompatible"));
      }
      assertThat(cp.admin().configHash()).as("the configuration in force").isEqualTo(after);
      assertThat(good.appliedHashes()).containsExactly(before, after);
      assertThat(Fleet.entry(cp.admin(), good).path("sync_status").asText()).isEqualTo("normal");
    } finally {
      hostile.forEach(HostileNode::close);
    }

    List<String> log = (cp.log() + cp.process().stdoutText()).lines().toList();
    String token = cp.token();
    String tokenHex = HexFormat.of().formatHex(token.getBytes(StandardCharsets.US_ASCII));
    SoftAssertions leaks = new SoftAssertions();
    leaks
        .assertThat(matching(log, l -> l.contains(token)))
        .as("log lines with the admin token")
        .isEmpty();
    leaks
        .assertThat(matching(log, l -> l.toLowerCase(Locale.ROOT).contains(tokenHex)))
        .as("log lines with the admin token hex-dumped")
        .isEmpty();
    leaks
        .assertThat(matching(log, l -> l.indexOf('\u001b') >= 0))
        .as("log lines with a terminal escape a node sent")
        .isEmpty();
    leaks
        .assertThat(matching(log, l -> l.startsWith(FORGED.substring(0, 24))))
        .as("log lines a data plane wrote")
        .isEmpty();
    leaks.assertAll();
  }

  /**
   * Connects a hostile node and sends its first ping; null when the control plane refuses it at the
   * WebSocket upgrade (which is a fine answer, as long as nothing of it reaches the log).
   */
  private HostileNode tryConnect(
      ControlPlaneProcess cp, String name, String nodeVersion, Map<String, String> plugins)
      throws Exception {
    HostileNode node;
    try {
      node = HostileNode.connect(cp, pki, name, nodeVersion, plugins);
    } catch (ExecutionException refused) {
      return null;
    }
    try {
      node.ping("0".repeat(32));
    } catch (ExecutionException closed) {
      // the control plane closed the connection after basic_info: also a refusal
    }
    return node;
  }

  private static List<String> matching(List<String> lines, Predicate<String> which) {
    return lines.stream().filter(which).toList();
  }

  /**
   * Opens a plain TCP connection to the data-plane port and sends an HTTP request with {@code
   * Authorization: Bearer <admin token>}, as a script pointed at the wrong port would; reads until
   * the control plane closes the connection.
   */
  private static void plaintextWithToken(ControlPlaneProcess cp) throws IOException {
    try (Socket socket = new Socket()) {
      socket.connect(
          new InetSocketAddress(InetAddress.getLoopbackAddress(), cp.dataPort()), 10_000);
      socket.setSoTimeout(20_000);
      String request =
          "PUT /config HTTP/1.1\r\n"
              + "Host: 127.0.0.1\r\n"
              + "Authorization: Bearer "
              + cp.token()
              + "\r\n"
              + "Content-Type: application/json\r\n"
              + "X-Request-Id: "
              + UUID.randomUUID()
              + "\r\n"
              + "Content-Length: 2\r\n\r\n{}";
      OutputStream out = socket.getOutputStream();
      out.write(request.getBytes(StandardCharsets.US_ASCII));
      out.flush();
      InputStream in = socket.getInputStream();
      byte[] buffer = new byte[4096];
      try {
        while (in.read(buffer) >= 0) {
          // whatever the control plane answers (a TLS alert), until it closes
        }
      } catch (SocketTimeoutException e) {
        throw new AssertionError("the control plane kept a plaintext connection open for 20 s", e);
      } catch (IOException reset) {
        // closed with a reset: also a refusal
      }
    }
  }
}
