package dev.configsync.examples.springgateway;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.sun.net.httpserver.HttpServer;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncState;
import dev.configsync.testkit.TestControlPlane;
import dev.configsync.testkit.TestPki;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.ConcurrentLinkedQueue;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.Test;
import org.springframework.beans.factory.annotation.Autowired;
import org.springframework.boot.test.context.SpringBootTest;
import org.springframework.boot.test.web.server.LocalServerPort;
import org.springframework.test.context.DynamicPropertyRegistry;
import org.springframework.test.context.DynamicPropertySource;

/**
 * The example application as it ships (its {@code application.yml}, the starter, the gateway
 * module), with the control plane address and files given as properties: real HTTP through it while
 * a real control plane (mutual TLS, 127.0.0.1) is stopped, restarted and changes the route.
 */
@SpringBootTest(
    classes = SpringGatewayApplication.class,
    webEnvironment = SpringBootTest.WebEnvironment.RANDOM_PORT,
    properties = {
      "configsync.heartbeat-interval=1s",
      "configsync.reconnect.min-delay=50ms",
      "configsync.reconnect.max-delay=200ms",
      "configsync.usage.enabled=false"
    })
class SpringGatewayIntegrationTest {
  static final int CLIENTS = 4;
  static final int MAX_REQUESTS_PER_CLIENT = 20_000;

  static TestControlPlane cp;
  static HttpServer one;
  static HttpServer two;

  @DynamicPropertySource
  static void start(DynamicPropertyRegistry registry) throws IOException {
    one = upstream("one");
    two = upstream("two");
    TestPki pki = TestPki.create();
    cp = TestControlPlane.start(pki);
    cp.publish(config(one));
    Path dir = Files.createTempDirectory("configsync-spring-gateway");
    Path tls = pki.writeDataPlaneFiles(dir);
    Files.setPosixFilePermissions(
        tls.resolve("dp.key"), PosixFilePermissions.fromString("rw-------"));
    registry.add("configsync.control-plane", () -> cp.uri().toString());
    registry.add("configsync.tls.cert", () -> tls.resolve("dp.crt").toString());
    registry.add("configsync.tls.key", () -> tls.resolve("dp.key").toString());
    registry.add("configsync.tls.ca", () -> tls.resolve("ca.crt").toString());
    registry.add("configsync.cache.directory", () -> dir.resolve("cache").toString());
  }

  @AfterAll
  static void stop() {
    cp.close();
    one.stop(0);
    two.stop(0);
  }

  static String config(HttpServer upstream) {
    return "{\"_format_version\":\"3.0\",\"services\":[{\"name\":\"orders\",\"url\":"
        + "\"http://127.0.0.1:"
        + upstream.getAddress().getPort()
        + "/v1\",\"routes\":[{\"name\":\"orders-api\",\"paths\":[\"/orders\"]}]}]}";
  }

  static HttpServer upstream(String name) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    server.createContext(
        "/",
        exchange -> {
          byte[] body =
              (name + " " + exchange.getRequestURI().getRawPath()).getBytes(StandardCharsets.UTF_8);
          exchange.sendResponseHeaders(200, body.length);
          try (OutputStream out = exchange.getResponseBody()) {
            out.write(body);
          }
        });
    server.start();
    return server;
  }

  @Autowired ConfigSyncClient client;
  @LocalServerPort int port;

  @Test
  void noRequestFailsWhileTheControlPlaneStopsRestartsAndChangesTheRoute() throws Exception {
    HttpClient http = HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(10)).build();
    URI uri = URI.create("http://127.0.0.1:" + port + "/orders/7");
    AtomicBoolean done = new AtomicBoolean();
    AtomicLong served = new AtomicLong();
    AtomicInteger sawNewRoute = new AtomicInteger();
    ConcurrentLinkedQueue<String> failures = new ConcurrentLinkedQueue<>();
    List<Thread> clients = new ArrayList<>();
    for (int c = 0; c < CLIENTS; c++) {
      Thread t =
          new Thread(
              () -> {
                boolean seenTwo = false;
                for (int i = 0; i < MAX_REQUESTS_PER_CLIENT && !done.get(); i++) {
                  try {
                    HttpResponse<String> r =
                        http.send(
                            HttpRequest.newBuilder(uri).build(),
                            HttpResponse.BodyHandlers.ofString());
                    if (r.statusCode() != 200) {
                      failures.add(r.statusCode() + " " + r.body());
                    } else if (r.body().equals("two /v1/7")) {
                      if (!seenTwo) {
                        seenTwo = true;
                        sawNewRoute.incrementAndGet();
                      }
                    } else if (!r.body().equals("one /v1/7") || seenTwo) {
                      failures.add("unexpected after the change: " + r.body());
                    }
                    served.incrementAndGet();
                  } catch (IOException e) {
                    failures.add(e.toString());
                  } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    return;
                  }
                }
              },
              "http-client-" + c);
      t.start();
      clients.add(t);
    }
    try {
      await().until(() -> served.get() >= 50);

      // The control plane goes away: the gateway keeps routing by its configuration.
      cp.stop();
      await().until(() -> client.status().state() != SyncState.CONNECTED);
      long atOutage = served.get();
      await().until(() -> served.get() >= atOutage + 200);

      // It comes back on the same port and changes the route's upstream: the change takes effect.
      cp.restart();
      await().until(() -> client.status().state() == SyncState.CONNECTED);
      String changed = cp.publish(config(two));
      await().until(() -> changed.equals(client.status().hash()));
      await().until(() -> sawNewRoute.get() == CLIENTS);
    } finally {
      done.set(true);
      for (Thread t : clients) {
        t.join(Duration.ofSeconds(30).toMillis());
      }
    }
    assertThat(failures).isEmpty();
    assertThat(served.get()).isGreaterThan(250);
  }
}
