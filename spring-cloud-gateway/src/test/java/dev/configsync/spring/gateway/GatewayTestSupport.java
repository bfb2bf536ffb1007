package dev.configsync.spring.gateway;

import com.fasterxml.jackson.databind.ObjectMapper;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.License;
import dev.configsync.license.LicenseSigner;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.time.Clock;
import java.time.Instant;
import java.time.LocalDate;
import java.time.ZoneId;
import java.time.ZoneOffset;

/** Upstream servers, licensed configurations and a hand-set clock for the gateway tests. */
final class GatewayTestSupport {
  static final ObjectMapper JSON = new ObjectMapper();

  private GatewayTestSupport() {}

  /** An HTTP server on 127.0.0.1 that answers {@code <name> <path?query>}. */
  static HttpServer upstream(String name) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/",
        exchange -> {
          byte[] body =
              (name
                      + " "
                      + exchange.getRequestURI().getRawPath()
                      + (exchange.getRequestURI().getRawQuery() == null
                          ? ""
                          : "?" + exchange.getRequestURI().getRawQuery()))
                  .getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    return server;
  }

  /** The license key pair and a signer. */
  static final class Licenses {
    final KeyPair keys = LicenseSigner.generateKeyPair();
    final LicenseSigner signer = new LicenseSigner(keys.getPrivate());

    /** {@code config} with a license valid through {@code lastDay} (UTC). */
    String licensed(String config, LocalDate lastDay) throws IOException {
      return JSON.writeValueAsString(
          LicenseSigner.withLicense(
              JSON.readTree(config),
              signer.sign(
                  new License(
                      "Example", "K-GW-1", "Enterprise", 5, lastDay.minusYears(1), lastDay))));
    }

    Path publicKeyFile(Path dir) throws IOException {
      Path file = dir.resolve("license.pem");
      Files.writeString(
          file, LicenseSigner.publicKeyPem(keys.getPublic()), StandardCharsets.US_ASCII);
      return file;
    }
  }

  /** A clock that tests set by hand. */
  static final class HandClock extends Clock {
    volatile Instant now;

    HandClock(Instant now) {
      this.now = now;
    }

    @Override
    public ZoneId getZone() {
      return ZoneOffset.UTC;
    }

    @Override
    public Clock withZone(ZoneId zone) {
      throw new UnsupportedOperationException();
    }

    @Override
    public Instant instant() {
      return now;
    }
  }

  static void ownerOnly(Path key) throws IOException {
    Files.setPosixFilePermissions(key, PosixFilePermissions.fromString("rw-------"));
  }
}
