package dev.configsync.examples.gateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import java.util.Map;
import org.junit.jupiter.api.Test;

/** The command line: flags, environment variables, and their errors. */
class GatewayMainTest {
  private static final Map<String, String> ENV =
      Map.of(
          "CONFIGSYNC_CONTROL_PLANE", "wss://cp:8005",
          "CONFIGSYNC_CERT", "env.crt",
          "CONFIGSYNC_KEY", "env.key",
          "CONFIGSYNC_CA", "ca.crt",
          "CONFIGSYNC_CACHE_DIR", "/var/lib/gw");

  @Test
  void flagsWinOverEnvironmentVariables() {
    Map<String, String> settings =
        GatewayMain.parse(new String[] {"--cert", "flag.crt", "--listen=9000"}, ENV);
    assertThat(settings)
        .containsEntry("--cert", "flag.crt")
        .containsEntry("--key", "env.key")
        .containsEntry("--listen", "9000")
        .containsEntry("--control-plane", "wss://cp:8005");
  }

  @Test
  void namesAMissingSettingAndItsVariable() {
    assertThatThrownBy(() -> GatewayMain.parse(new String[] {"--cert", "c"}, Map.of()))
        .hasMessageContaining("--control-plane (or CONFIGSYNC_CONTROL_PLANE) is required");
    assertThatThrownBy(() -> GatewayMain.parse(new String[] {"--bogus", "1"}, ENV))
        .hasMessage("unknown option --bogus");
    assertThatThrownBy(() -> GatewayMain.parse(new String[] {"--cert"}, ENV))
        .hasMessage("--cert needs a value");
  }

  @Test
  void readsListenAddresses() {
    InetSocketAddress portOnly = GatewayMain.listenAddress("9000");
    assertThat(portOnly.getAddress().isLoopbackAddress()).isTrue();
    assertThat(portOnly.getPort()).isEqualTo(9000);
    InetSocketAddress all = GatewayMain.listenAddress("0.0.0.0:8000");
    assertThat(all.getAddress().isAnyLocalAddress()).isTrue();
    assertThat(all.getPort()).isEqualTo(8000);
    assertThatThrownBy(() -> GatewayMain.listenAddress("host:http"))
        .hasMessageContaining("--listen must be PORT or HOST:PORT");
  }

  @Test
  void capabilityIsRepeatableAndItsVariableIsACommaList() {
    Map<String, String> flags =
        GatewayMain.parse(
            new String[] {"--capability", "key-auth=3.4.0", "--capability=cors=3.4.0"}, ENV);
    assertThat(flags).containsEntry("--capability", "key-auth=3.4.0,cors=3.4.0");
    Map<String, String> env = new java.util.HashMap<>(ENV);
    env.put("CONFIGSYNC_CAPABILITIES", "key-auth=3.4.0,cors=3.4.0");
    env.put("CONFIGSYNC_NODE_VERSION", "0.1.5");
    assertThat(GatewayMain.parse(new String[0], env))
        .containsEntry("--capability", "key-auth=3.4.0,cors=3.4.0")
        .containsEntry("--node-version", "0.1.5");
  }

  /** Bad declarations are refused before anything starts, naming the flag (exit status 2). */
  @Test
  void aBadCapabilityOrNodeVersionNamesItsFlag(
      @org.junit.jupiter.api.io.TempDir java.nio.file.Path dir) throws Exception {
    java.nio.file.Path certs =
        dev.configsync.testkit.TestPki.create().writeDataPlaneFiles(dir.resolve("pki"));
    Map<String, String> base =
        Map.of(
            "--control-plane", "wss://127.0.0.1:9",
            "--cert", certs.resolve("dp.crt").toString(),
            "--key", certs.resolve("dp.key").toString(),
            "--ca", certs.resolve("ca.crt").toString(),
            "--cache-dir", dir.resolve("cache").toString(),
            "--listen", "127.0.0.1:0");
    for (Map.Entry<String, String> bad :
        Map.of(
                "key-auth", "--capability must be NAME=VERSION",
                "key-auth=latest", "--capability key-auth=latest: plugin key-auth: version",
                "key auth=3.4.0", "plugin name",
                "key-auth=3.4.0,key-auth=3.4.0", "declared twice",
                "key-auth=3.4.0\u001b[31m", "\\u001b")
            .entrySet()) {
      Map<String, String> settings = new java.util.HashMap<>(base);
      settings.put("--capability", bad.getKey());
      assertThatThrownBy(() -> GatewayMain.start(settings))
          .as(bad.getKey())
          .isInstanceOf(IllegalArgumentException.class)
          .hasMessageContaining("--capability")
          .hasMessageContaining(bad.getValue());
    }
    Map<String, String> settings = new java.util.HashMap<>(base);
    settings.put("--node-version", "banana");
    assertThatThrownBy(() -> GatewayMain.start(settings))
        .isInstanceOf(IllegalArgumentException.class)
        .hasMessageContaining("--node-version")
        .hasMessageContaining("banana");
  }
}
