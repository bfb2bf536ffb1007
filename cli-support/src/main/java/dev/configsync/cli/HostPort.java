package dev.configsync.cli;

import java.net.Inet6Address;
import java.net.InetSocketAddress;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import picocli.CommandLine;

/** {@code HOST:PORT} flags. Stateless; safe from any thread. */
public final class HostPort {
  private static final Pattern FORM = Pattern.compile("(\\[[^\\]]+\\]|[^:\\[\\]]+):(\\d{1,5})");

  private HostPort() {}

  /**
   * Parses {@code HOST:PORT} (an IPv6 address in brackets) and resolves the host.
   *
   * @param text the flag's value
   * @return the resolved address
   * @throws BadArgumentException when the form is wrong, the port out of range or the host unknown
   */
  public static InetSocketAddress parse(String text) throws BadArgumentException {
    Matcher m = FORM.matcher(text.strip());
    if (!m.matches()) {
      throw new BadArgumentException(
          "'"
              + text
              + "' is not HOST:PORT (for example 0.0.0.0:8005, 127.0.0.1:8001 or [::1]:8001)");
    }
    int port = Integer.parseInt(m.group(2));
    if (port > 65535) {
      throw new BadArgumentException("'" + text + "': the port must be 0 to 65535");
    }
    String host = m.group(1);
    if (host.startsWith("[")) {
      host = host.substring(1, host.length() - 1);
    }
    InetSocketAddress address = new InetSocketAddress(host, port);
    if (address.isUnresolved()) {
      throw new BadArgumentException("'" + text + "': cannot resolve host " + host);
    }
    return address;
  }

  /**
   * Formats an address for messages and ready lines.
   *
   * @param address an address, resolved or not
   * @return {@code 127.0.0.1:8001}, {@code [::1]:8001}
   */
  public static String format(InetSocketAddress address) {
    String host =
        address.getAddress() == null
            ? address.getHostString()
            : address.getAddress() instanceof Inet6Address
                ? "[" + address.getAddress().getHostAddress() + "]"
                : address.getAddress().getHostAddress();
    return host + ":" + address.getPort();
  }

  /** The picocli converter; picocli names the option in its message. */
  public static final class Converter implements CommandLine.ITypeConverter<InetSocketAddress> {
    /** For picocli. */
    public Converter() {}

    @Override
    public InetSocketAddress convert(String value) {
      try {
        return parse(value);
      } catch (BadArgumentException e) {
        throw new CommandLine.TypeConversionException(e.getMessage());
      }
    }
  }
}
