package dev.configsync.cli;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import java.net.InetSocketAddress;
import org.junit.jupiter.api.Test;

class FlagParsersTest {
  @Test
  void sizesTakeBinaryUnits() {
    assertThat(ByteSize.parse("16777216")).isEqualTo(16L << 20);
    assertThat(ByteSize.parse("512KiB")).isEqualTo(512L << 10);
    assertThat(ByteSize.parse("16MiB")).isEqualTo(16L << 20);
    assertThat(ByteSize.parse(" 16MiB ")).isEqualTo(16L << 20);
    assertThat(ByteSize.parse("1GiB")).isEqualTo(1L << 30);
    assertThat(ByteSize.format(16L << 20)).isEqualTo("16MiB");
    assertThat(ByteSize.format(1000)).isEqualTo("1000");
    assertThat(ByteSize.format(0)).isEqualTo("0");
  }

  @Test
  void badSizesSayWhatIsAccepted() {
    assertThatThrownBy(() -> ByteSize.parse("16MB"))
        .hasMessageContaining("'16MB' is not a size")
        .hasMessageContaining("KiB, MiB or GiB");
    assertThatThrownBy(() -> ByteSize.parse("999999999999GiB")).hasMessageContaining("too large");
  }

  @Test
  void hostPortTakesIpv4AndBracketedIpv6() throws Exception {
    InetSocketAddress v4 = HostPort.parse("127.0.0.1:8001");
    assertThat(HostPort.format(v4)).isEqualTo("127.0.0.1:8001");
    InetSocketAddress v6 = HostPort.parse("[::1]:0");
    assertThat(HostPort.format(v6)).isEqualTo("[0:0:0:0:0:0:0:1]:0");
  }

  @Test
  void badHostPortsSayWhy() {
    assertThatThrownBy(() -> HostPort.parse("8001"))
        .isInstanceOf(BadArgumentException.class)
        .hasMessageContaining("is not HOST:PORT");
    assertThatThrownBy(() -> HostPort.parse("127.0.0.1:70000"))
        .hasMessageContaining("the port must be 0 to 65535");
  }
}
