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
}
