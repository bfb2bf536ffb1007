package dev.configsync.cp.cli;

import static dev.configsync.cp.cli.FlagSettings.setting;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.cli.BadArgumentException;
import dev.configsync.cli.HostPort;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishedConfig;
import dev.configsync.cp.ServerTls;
import java.io.IOException;
import java.net.BindException;
import java.net.InetSocketAddress;
import java.nio.channels.ServerSocketChannel;
import java.nio.file.Path;
import java.time.Duration;
import java.util.Locale;
import java.util.Objects;
import org.jspecify.annotations.Nullable;
import org.slf4j.LoggerFactory;

/**
 * What the flags of {@code configsync-cp} describe, checked and opened: the server builder (TLS,
 * ports, admin token, limits, store), the {@code --config} to publish, and the store lock that
 * {@link #release()} gives back. Also names a port that cannot be bound and writes the ready line.
 * Used on the command's thread only.
 */
record ControlPlaneAssembly(
    ControlPlaneServer.Builder builder,
    InetSocketAddress listen,
    @Nullable InetSocketAddress admin,
    @Nullable JsonNode config,
    @Nullable String token,
    StoreOptions.Opened store) {

  /**
   * Checks every flag of {@code command}, in a fixed order (so that the first wrong one is named),
   * and opens what they describe.
   *
   * @throws BadArgumentException naming the flag at fault
   */
  static ControlPlaneAssembly assemble(ControlPlaneMain command) throws BadArgumentException {
    ServerTls.Mode mode = command.serverTls.mode();
    InetSocketAddress admin = command.admin.address();
    boolean etcd = command.store.check();
    ServerTls tls = command.serverTls.tls(mode);
    String token = command.admin.token();
    ControlPlaneServer.Builder builder = ControlPlaneServer.builder().tls(tls);
    InetSocketAddress dataPlanes = Objects.requireNonNull(command.listen, "--listen");
    builder.listen(dataPlanes);
    if (admin != null) {
      builder.admin(admin);
      if (token != null) {
        setting("--admin-token-file", () -> builder.adminToken(token));
      } else if (!admin.getAddress().isLoopbackAddress()) {
        LoggerFactory.getLogger(ControlPlaneMain.class)
            .warn(
                "The admin API listens on {} without a token: anyone who reaches it can publish."
                    + " Use --admin-token-file, or keep it on 127.0.0.1",
                HostPort.format(admin));
      }
    }
    setting("--heartbeat", () -> builder.heartbeatInterval(command.heartbeat));
    Duration forget = command.forgetAfter;
    if (forget != null) {
      setting("--forget-after", () -> builder.forgetAfter(forget));
    }
    setting("--version", () -> builder.version(command.version));
    for (ControlPlaneMain.Capability c : command.capabilities) {
      setting("--capability", () -> builder.capability(c.name(), c.version()));
    }
    command.limits.applyTo(builder);
    Path configPath = command.config;
    JsonNode table = configPath == null ? null : ConfigFile.read(configPath);
    StoreOptions.Opened store = command.store.open(builder, etcd, command.limits.maxPayloadBytes());
    return new ControlPlaneAssembly(builder, dataPlanes, admin, table, token, store);
  }

  /** Gives the store lock back, if one was taken. */
  void release() {
    store.release();
  }

  /** Never prints the token. */
  @Override
  public String toString() {
    return "ControlPlaneAssembly[store=" + store.description() + "]";
  }

  /** The line printed on stdout once the control plane accepts connections. */
  String readyLine(ControlPlaneServer server) {
    StringBuilder line = new StringBuilder(ControlPlaneMain.NAME).append(" ready: data planes on ");
    line.append(HostPort.format(server.address()))
        .append(" (")
        .append(server.tls().mode().name().toLowerCase(Locale.ROOT))
        .append(" mode), ");
    server
        .adminAddress()
        .ifPresentOrElse(
            a ->
                line.append("admin API on http://")
                    .append(HostPort.format(a))
                    .append(token == null ? " (no token)" : " (bearer token required)"),
            () -> line.append("admin API off"));
    line.append(", store ").append(store.description());
    line.append(", ")
        .append(
            server
                .currentConfig()
                .map(PublishedConfig::hash)
                .map(h -> "configuration " + h)
                .orElse("no configuration yet"));
    return line.toString();
  }

  // ---- binding failures -------------------------------------------------------------------------

  static boolean isBindFailure(Throwable e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof BindException) {
        return true;
      }
    }
    return false;
  }

  /**
   * Names the port that could not be bound. The server's exception does not say which of its two
   * ports failed, so each configured address is tried again, briefly, now that the server has let
   * go of both.
   */
  String bindFailure(Exception e) {
    String found = probe("--listen", listen);
    InetSocketAddress adminAddress = admin;
    if (found == null && adminAddress != null) {
      found = probe("--admin-listen", adminAddress);
    }
    return found != null ? found : "cannot listen: " + e.getMessage();
  }

  private static @Nullable String probe(String flag, InetSocketAddress address) {
    if (address.getPort() == 0) {
      return null;
    }
    try (ServerSocketChannel channel = ServerSocketChannel.open()) {
      channel.bind(address);
      return null;
    } catch (IOException e) {
      String reason = String.valueOf(e.getMessage());
      String hint =
          reason.contains("in use")
              ? "; another process listens on port " + address.getPort()
              : address.getPort() < 1024 && reason.toLowerCase(Locale.ROOT).contains("permission")
                  ? "; ports below 1024 need root or CAP_NET_BIND_SERVICE"
                  : "";
      return "cannot listen on " + HostPort.format(address) + " (" + flag + "): " + reason + hint;
    }
  }
}
