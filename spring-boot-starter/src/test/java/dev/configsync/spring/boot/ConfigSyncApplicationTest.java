package dev.configsync.spring.boot;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicReference;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.autoconfigure.SpringBootApplication;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.web.server.context.WebServerInitializedEvent;
import org.springframework.context.ApplicationListener;
import org.springframework.context.annotation.Bean;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.json.JsonMapper;

/**
 * A real Spring Boot 4 application (WebFlux, Actuator, Jackson 3 as Boot sets it up) with only the
 * starter and properties: the configuration runs before the web server takes requests, and the
 * Actuator endpoints show the client.
 */
@SpringBootTest(
    classes = ConfigSyncApplicationTest.App.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "management.endpoints.web.exposure.include=health,info",
      "management.endpoint.health.show-details=always",
      "configsync.startup-wait=30s",
      "configsync.heartbeat-interval=1s",
      "configsync.reconnect.min-delay=50ms",
      "configsync.reconnect.max-delay=200ms",
      "configsync.usage.enabled=false"
    })
class ConfigSyncApplicationTest {
  static TestControlPlane cp;
  static String hash;

  @SpringBootApplication
  static class App {
    /** What the client ran when the web server was ready to take requests. */
    final AtomicReference<Optional<ConfigSnapshot>> atWebServerStart = new AtomicReference<>();

    @Bean
    ApplicationListener<WebServerInitializedEvent> probe(ConfigSyncClient client) {
      return event -> atWebServerStart.set(client.current());
    }
  }

  @DynamicPropertySource
  static void controlPlane(DynamicPropertyRegistry registry) throws Exception {
    TestPki pki = TestPki.create();
    cp = TestControlPlane.start(pki);
    hash = cp.publish("{\"services\":[{\"name\":\"app\"}]}");
    Path tls = pki.writeDataPlaneFiles(Files.createTempDirectory("configsync-app-tls"));
    Files.setPosixFilePermissions(
        tls.resolve("dp.key"), PosixFilePermissions.fromString("rw-------"));
    registry.add("configsync.control-plane", () -> cp.uri().toString());
    registry.add("configsync.tls.cert", () -> tls.resolve("dp.crt").toString());
    registry.add("configsync.tls.key", () -> tls.resolve("dp.key").toString());
    registry.add("configsync.tls.ca", () -> tls.resolve("ca.crt").toString());
    registry.add(
        "configsync.cache.directory",
        () -> tls.resolveSibling(tls.getFileName() + "-cache").toString());
  }

  @AfterAll
  static void stop() {
    cp.close();
  }

  @Autowired App app;
  @Autowired ConfigSyncClient client;

  @org.springframework.boot.test.web.server.LocalServerPort int port;

  @Test
  void theConfigurationRunsBeforeTheWebServerAndActuatorShowsIt() throws Exception {
    assertThat(app.atWebServerStart.get()).isPresent();
    assertThat(app.atWebServerStart.get().orElseThrow().hash()).isEqualTo(hash);

    HttpClient http = HttpClient.newHttpClient();
    HttpResponse<String> health =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/health"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(health.statusCode()).isEqualTo(200);
    JsonNode body = JsonMapper.builder().build().readTree(health.body());
    JsonNode configsync = body.get("components").get("configsync");
    assertThat(configsync.get("status").asString()).isEqualTo("UP");
    assertThat(configsync.get("details").get("hash").asString()).isEqualTo(hash);
    assertThat(configsync.get("details").get("source").asString()).isEqualTo("CONTROL_PLANE");

    HttpResponse<String> info =
        http.send(
            HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + "/actuator/info"))
                .build(),
            HttpResponse.BodyHandlers.ofString());
    assertThat(info.statusCode()).isEqualTo(200);
    assertThat(info.body()).contains("\"configsync\"").contains(hash);
    assertThat(client.isServing()).isTrue();
  }
}
