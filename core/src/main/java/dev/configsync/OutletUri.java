package dev.configsync;

import dev.configsync.internal.HybridProtocol;
import java.net.URI;
import java.net.URLEncoder;
import java.nio.charset.StandardCharsets;
import java.util.UUID;

/** Builds the URI a data plane dials: {@code wss://host:port/v1/outlet?node_id=...}. */
final class OutletUri {
  private OutletUri() {}

  /** Checks a control-plane address given to the builder; returns it with the default path. */
  static URI normalize(URI controlPlane) {
    return normalize(controlPlane, HybridProtocol.OUTLET_PATH, "controlPlane");
  }

  /**
   * Checks a {@code wss://} address given to the builder as {@code setting}; returns it with an
   * explicit port and {@code defaultPath} when it has no path.
   */
  static URI normalize(URI controlPlane, String defaultPath, String setting) {
    String scheme = controlPlane.getScheme();
    if (scheme == null || !scheme.equalsIgnoreCase("wss")) {
      throw new IllegalArgumentException(
          setting
              + " must be a wss:// URI (the connection is always mutual TLS), got: "
              + controlPlane);
    }
    if (controlPlane.getHost() == null) {
      throw new IllegalArgumentException(setting + " has no host: " + controlPlane);
    }
    if (controlPlane.getRawQuery() != null || controlPlane.getRawFragment() != null) {
      throw new IllegalArgumentException(
          setting
              + " must not carry a query or fragment (the client adds node_id and the"
              + " rest): "
              + controlPlane);
    }
    String path = controlPlane.getRawPath();
    if (path == null || path.isEmpty() || path.equals("/")) {
      path = defaultPath;
    }
    int port = controlPlane.getPort() == -1 ? 443 : controlPlane.getPort();
    return URI.create("wss://" + hostForUri(controlPlane.getHost()) + ":" + port + path);
  }

  /** {@code endpoint} (already normalized) with its path replaced by {@code path}. */
  static URI withPath(URI endpoint, String path) {
    return URI.create("wss://" + hostForUri(endpoint.getHost()) + ":" + endpoint.getPort() + path);
  }

  private static String hostForUri(String host) {
    return host.contains(":") && !host.startsWith("[") ? "[" + host + "]" : host;
  }

  static URI of(URI endpoint, UUID nodeId, String hostname, String version) {
    return URI.create(
        endpoint
            + "?node_id="
            + nodeId
            + "&node_hostname="
            + URLEncoder.encode(hostname, StandardCharsets.UTF_8)
            + "&node_version="
            + URLEncoder.encode(version, StandardCharsets.UTF_8));
  }
}
