package dev.configsync.examples.gateway;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cache.FileSnapshotStore;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.okhttp.TlsConfig;
import java.io.IOException;
import java.io.PrintStream;
import java.net.InetSocketAddress;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.HashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import org.jspecify.annotations.Nullable;

/**
 * Runs the example gateway from flags or environment variables (a flag wins over its variable):
 *
 * <pre>
 * java -jar examples/gateway/target/configsync-gateway.jar \
 *     --control-plane wss://cp.example.com:8005 --cert dp.crt --key dp.key --ca ca.crt \
 *     --cache-dir /var/lib/gateway [--listen 0.0.0.0:8000] [--server-name NAME] [--license-key FILE]
 *     [--capability NAME=VERSION]... [--node-version VERSION]
 * </pre>
 *
 * <p>Exit code 2 on bad arguments. The gateway runs until the process is stopped (SIGTERM, Ctrl-C),
 * which closes it cleanly.
 */
public final class GatewayMain {
  /** The JDK HTTP server's switch for TCP_NODELAY on accepted connections. */
  static final String NO_DELAY = "sun.net.httpserver.nodelay";

  /** Flag, environment variable, and whether it is required. */
  private record Option(String flag, String env, boolean required, String help) {}

  private static final List<Option> OPTIONS =
      List.of(
          new Option(
              "--control-plane", "CONFIGSYNC_CONTROL_PLANE", true, "wss://HOST:PORT to dial"),
          new Option("--cert", "CONFIGSYNC_CERT", true, "this node's certificate chain (PEM)"),
          new Option("--key", "CONFIGSYNC_KEY", true, "its private key (PEM)"),
          new Option("--ca", "CONFIGSYNC_CA", true, "CA certificates to trust (PEM)"),
          new Option("--cache-dir", "CONFIGSYNC_CACHE_DIR", true, "where config.json.gz is kept"),
          new Option(
              "--listen", "GATEWAY_LISTEN", false, "[HOST:]PORT to serve on (127.0.0.1:8000)"),
          new Option(
              "--server-name", "CONFIGSYNC_SERVER_NAME", false, "TLS name of the control plane"),
          new Option(
              "--license-key",
              "CONFIGSYNC_LICENSE_KEY",
              false,
              "Ed25519 public key (PEM) that signs licenses; turns licensing on"),
          new Option(
              "--capability",
              "CONFIGSYNC_CAPABILITIES",
              false,
              "NAME=VERSION of a plugin requests really go through (added to the gateway, or"
                  + " enforced in front of it); repeatable (the variable: comma-separated)."
                  + " Default none: the gateway runs no plugins"),
          new Option(
              "--node-version",
              "CONFIGSYNC_NODE_VERSION",
              false,
              "the node_version reported to the control plane (default "
                  + ConfigSyncClient.VERSION
                  + ")"));

  private GatewayMain() {}

  /** Starts the gateway; see the class comment for the arguments. */
  public static void main(String[] args) throws IOException {
    noDelay();
    Map<String, String> settings;
    try {
      settings = parse(args, System.getenv());
    } catch (IllegalArgumentException e) {
      System.err.println("error: " + e.getMessage());
      usage(System.err);
      System.exit(2);
      return;
    }
    if (settings.containsKey("--help")) {
      usage(System.out);
      return;
    }
    Gateway gateway;
    try {
      gateway = start(settings);
    } catch (IllegalArgumentException | IllegalStateException e) {
      System.err.println("error: " + e.getMessage());
      System.exit(2);
      return;
    }
    Runtime.getRuntime().addShutdownHook(new Thread(gateway::close, "gateway-shutdown"));
    // The HTTP server's dispatcher thread keeps the process alive until it is stopped.
  }

  /**
   * Turns on TCP_NODELAY in the JDK's HTTP server, unless the command line chose: without it the
   * server sends a response's headers and body in two segments, and the second waits for the
   * client's delayed ACK (measured: 40 ms per request on loopback, against under 1 ms with it). The
   * JDK reads the property once, when its server first starts, hence here, first.
   */
  static void noDelay() {
    if (System.getProperty(NO_DELAY) == null) {
      System.setProperty(NO_DELAY, "true");
    }
  }

  static Gateway start(Map<String, String> settings) throws IOException {
    TlsConfig tls =
        TlsConfig.pki(
            Path.of(settings.get("--cert")),
            Path.of(settings.get("--key")),
            Path.of(settings.get("--ca")));
    String serverName = settings.get("--server-name");
    if (serverName != null) {
      tls = tls.withServerName(serverName);
    }
    ConfigSyncClient.Builder client =
        ConfigSyncClient.builder()
            .controlPlane(URI.create(settings.get("--control-plane")))
            .transport(OkHttpTransport.create(tls))
            .snapshotStore(FileSnapshotStore.open(Path.of(settings.get("--cache-dir"))));
    String nodeVersion = settings.get("--node-version");
    if (nodeVersion != null) {
      if (!Gateway.VERSION.matcher(nodeVersion).matches()) {
        throw new IllegalArgumentException(
            "--node-version must be MAJOR.MINOR[.PATCH] with an optional -suffix or +suffix, got: "
                + printable(nodeVersion));
      }
      client.nodeVersion(nodeVersion);
    }
    Gateway.Builder gateway = Gateway.builder();
    String capabilities = settings.get("--capability");
    if (capabilities != null) {
      for (String item : capabilities.split(",", -1)) {
        String capability = item.trim();
        int eq = capability.indexOf('=');
        if (eq < 0) {
          throw new IllegalArgumentException(
              "--capability must be NAME=VERSION (e.g. key-auth=3.4.0), got: "
                  + printable(capability));
        }
        try {
          gateway.plugin(capability.substring(0, eq), capability.substring(eq + 1));
        } catch (IllegalArgumentException e) {
          throw new IllegalArgumentException(
              "--capability " + printable(capability) + ": " + printable(e.getMessage()), e);
        }
      }
    }
    String licenseKey = settings.get("--license-key");
    if (licenseKey != null) {
      client.licenseKeyPem(Files.readString(Path.of(licenseKey), StandardCharsets.US_ASCII));
    }
    return gateway
        .listen(listenAddress(settings.getOrDefault("--listen", "127.0.0.1:8000")))
        .start(client);
  }

  /**
   * The settings from {@code args}, then {@code env} for flags not given.
   *
   * @throws IllegalArgumentException on an unknown flag, a flag without a value, or a missing
   *     required setting
   */
  static Map<String, String> parse(String[] args, Map<String, String> env) {
    Map<String, String> out = new HashMap<>();
    for (int i = 0; i < args.length; i++) {
      String arg = args[i];
      if (arg.equals("--help") || arg.equals("-h")) {
        out.put("--help", "");
        return out;
      }
      String value = null;
      int eq = arg.indexOf('=');
      if (eq > 0) {
        value = arg.substring(eq + 1);
        arg = arg.substring(0, eq);
      }
      if (find(arg) == null) {
        throw new IllegalArgumentException("unknown option " + arg);
      }
      if (value == null) {
        if (i + 1 >= args.length) {
          throw new IllegalArgumentException(arg + " needs a value");
        }
        value = args[++i];
      }
      if (arg.equals("--capability") && out.containsKey(arg)) {
        value = out.get(arg) + "," + value; // repeatable: kept as the variable's comma list
      }
      out.put(arg, value);
    }
    for (Option option : OPTIONS) {
      String fromEnv = env.get(option.env());
      if (!out.containsKey(option.flag()) && fromEnv != null && !fromEnv.isBlank()) {
        out.put(option.flag(), fromEnv);
      }
      if (option.required() && !out.containsKey(option.flag())) {
        throw new IllegalArgumentException(
            option.flag() + " (or " + option.env() + ") is required: " + option.help());
      }
    }
    return out;
  }

  /** {@code text} with control characters escaped, for an error message. */
  static String printable(@Nullable String text) {
    StringBuilder b = new StringBuilder();
    String.valueOf(text)
        .codePoints()
        .forEach(
            c -> {
              if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                b.append(String.format(Locale.ROOT, "\\u%04x", c));
              } else {
                b.appendCodePoint(c);
              }
            });
    return b.toString();
  }

  /** {@code PORT} or {@code HOST:PORT}. */
  static InetSocketAddress listenAddress(String value) {
    int colon = value.lastIndexOf(':');
    String host = colon < 0 ? "127.0.0.1" : value.substring(0, colon);
    String port = colon < 0 ? value : value.substring(colon + 1);
    try {
      int p = Integer.parseInt(port);
      if (p < 0 || p > 65535) {
        throw new NumberFormatException();
      }
      return new InetSocketAddress(host.replace("[", "").replace("]", ""), p);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(
          "--listen must be PORT or HOST:PORT with a port from 0 to 65535, got: " + value, e);
    }
  }

  private static @Nullable Option find(String flag) {
    for (Option option : OPTIONS) {
      if (option.flag().equals(flag)) {
        return option;
      }
    }
    return null;
  }

  private static void usage(PrintStream out) {
    out.println(
        "usage: configsync-gateway [options]   (a flag wins over its environment variable)");
    for (Option option : OPTIONS) {
      out.printf(
          Locale.ROOT,
          "  %-16s %-26s %s%s%n",
          option.flag(),
          option.env(),
          option.help(),
          option.required() ? " (required)" : "");
    }
  }
}
