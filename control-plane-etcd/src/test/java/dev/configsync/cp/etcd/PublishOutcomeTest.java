package dev.configsync.cp.etcd;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatThrownBy;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import dev.configsync.cp.ConfigConflictException;
import java.io.IOException;
import java.io.OutputStream;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.atomic.AtomicInteger;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;

/**
 * What {@link EtcdConfigStore#save(byte[], String, String)} answers when etcd applied a publish
 * without saying so clearly: a copy of the same transaction sent again must never be told that the
 * publish conflicts with itself. A small HTTP proxy in front of a real one-member etcd cluster
 * plays the member whose answer went wrong; the store lists it first, and etcd itself next.
 */
class PublishOutcomeTest {
  private static final String FIRST = "11111111111111111111111111111111";
  private static final String OTHER = "22222222222222222222222222222222";

  private static EtcdCluster etcd;

  private final List<AutoCloseable> closeables = new ArrayList<>();
  private final HttpClient http =
      HttpClient.newBuilder().version(HttpClient.Version.HTTP_1_1).build();

  @BeforeAll
  static void startEtcd() throws IOException {
    etcd = EtcdCluster.start(1);
  }

  @AfterAll
  static void stopEtcd() {
    if (etcd != null) {
      etcd.close();
    }
  }

  @AfterEach
  void closeAll() throws Exception {
    for (int i = closeables.size() - 1; i >= 0; i--) {
      closeables.get(i).close();
    }
  }

  /** What the proxy does with the n-th transaction (1-based); everything else is forwarded. */
  @FunctionalInterface
  interface TxnRule {
    void handle(int n, byte[] body, HttpExchange exchange) throws IOException;
  }

  /** A proxy to etcd's member 0 that hands each {@code /v3/kv/txn} to {@code rule}. */
  private URI proxy(TxnRule rule) throws IOException {
    HttpServer server =
        HttpServer.create(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0), 0);
    AtomicInteger txns = new AtomicInteger();
    server.createContext(
        "/",
        exchange -> {
          try (exchange) {
            byte[] body = exchange.getRequestBody().readAllBytes();
            String path = exchange.getRequestURI().getPath();
            if (path.equals("/v3/kv/txn")) {
              rule.handle(txns.incrementAndGet(), body, exchange);
            } else {
              HttpResponse<byte[]> answer = forward(path, body);
              reply(exchange, answer.statusCode(), answer.body());
            }
          }
        });
    server.start();
    closeables.add(() -> server.stop(0));
    return URI.create("http://127.0.0.1:" + server.getAddress().getPort());
  }

  private HttpResponse<byte[]> forward(String path, byte[] body) throws IOException {
    HttpRequest request =
        HttpRequest.newBuilder(etcd.endpoint(0).resolve(path))
            .header("Content-Type", "application/json")
            .POST(HttpRequest.BodyPublishers.ofByteArray(body))
            .build();
    try {
      return http.send(request, HttpResponse.BodyHandlers.ofByteArray());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      throw new IOException("interrupted", e);
    }
  }

  private static void reply(HttpExchange exchange, int status, byte[] body) throws IOException {
    exchange.sendResponseHeaders(status, body.length);
    try (OutputStream out = exchange.getResponseBody()) {
      out.write(body);
    }
  }

  private EtcdConfigStore store(String prefix, String name, @Nullable URI proxy) {
    List<URI> endpoints = new ArrayList<>();
    if (proxy != null) {
      endpoints.add(proxy);
    }
    endpoints.addAll(etcd.endpoints());
    EtcdConfigStore store =
        EtcdConfigStore.builder()
            .endpoints(endpoints)
            .prefix(prefix)
            .replicaName(name)
            .requestTimeout(Duration.ofSeconds(5))
            .unavailableAfter(Duration.ofSeconds(10))
            .build();
    closeables.add(store);
    return store;
  }

  @Test
  void aPublishEtcdAppliedBeforeAnsweringLeaderChangedIsASuccessNotAConflictWithItself()
      throws Exception {
    // The member applies the transaction, then answers as etcd does when its leader changed
    // meanwhile; the gateway sends the same transaction to the next member, whose compare fails
    // on the write the first copy made.
    URI proxy =
        proxy(
            (n, body, exchange) -> {
              HttpResponse<byte[]> applied = forward("/v3/kv/txn", body);
              if (n == 1) {
                reply(
                    exchange,
                    503,
                    ("{\"error\":\"etcdserver: leader changed\",\"code\":14,"
                            + "\"message\":\"etcdserver: leader changed\"}")
                        .getBytes(StandardCharsets.UTF_8));
              } else {
                reply(exchange, applied.statusCode(), applied.body());
              }
            });
    String prefix = "/outcome/leader-changed/";
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();

    long revision = a.save(TestFrames.reconfigure(FIRST), FIRST, null);

    List<EtcdCluster.Version> inEtcd = etcd.history(prefix + "config-hash");
    assertThat(inEtcd).hasSize(1);
    assertThat(inEtcd.get(0).text()).isEqualTo(FIRST);
    assertThat(revision).isEqualTo(inEtcd.get(0).revision());
    // The replica knows it wrote FIRST: its next publish expects it and goes through.
    long next = a.save(TestFrames.reconfigure(OTHER), OTHER, FIRST);
    assertThat(next).isGreaterThan(revision);
    assertThat(etcd.history(prefix + "config-hash").get(0).text()).isEqualTo(OTHER);
  }

  @Test
  void aPublishAppliedLateAndOverwrittenBeforeItsRetryIsASuccessNotAConflict() throws Exception {
    String prefix = "/outcome/overwritten/";
    EtcdConfigStore b = store(prefix, "b", null);
    byte[][] held = new byte[1][];
    // 1st copy: taken, no answer (the member dies before answering; its log keeps the write).
    // 2nd copy: before it arrives, the held first copy commits and replica b publishes on top.
    URI proxy =
        proxy(
            (n, body, exchange) -> {
              if (n == 1) {
                held[0] = body;
                return; // closes the exchange without an answer
              }
              if (n == 2) {
                HttpResponse<byte[]> late = forward("/v3/kv/txn", held[0]);
                assertThat(new String(late.body(), StandardCharsets.UTF_8))
                    .contains("\"succeeded\":true");
                b.load();
                b.save(TestFrames.reconfigure(OTHER), OTHER, FIRST);
              }
              HttpResponse<byte[]> answer = forward("/v3/kv/txn", body);
              reply(exchange, answer.statusCode(), answer.body());
            });
    EtcdConfigStore a = store(prefix, "a", proxy);
    assertThat(a.load()).isEmpty();

    long revision = a.save(TestFrames.reconfigure(FIRST), FIRST, null);

    List<EtcdCluster.Version> inEtcd = etcd.history(prefix + "config-hash");
    assertThat(inEtcd).extracting(EtcdCluster.Version::text).containsExactly(OTHER, FIRST);
    assertThat(revision).isEqualTo(inEtcd.get(1).revision());
    // What a publish really conflicting with b's answers is still a conflict.
    assertThatThrownBy(
            () -> a.save(TestFrames.reconfigure("33333333333333333333333333333333"), "3333", FIRST))
        .isInstanceOf(ConfigConflictException.class);
  }

  @Test
  void unavailableAfterNotAboveRequestTimeoutIsRefusedAtBuild() {
    EtcdConfigStore.Builder b =
        EtcdConfigStore.builder().endpoints(etcd.endpoints()).requestTimeout(Duration.ofSeconds(5));
    assertThatThrownBy(b::build) // unavailableAfter's default, 5 s, is not above 5 s
        .isInstanceOf(IllegalStateException.class)
        .hasMessageContaining("unavailableAfter (PT5S) must be longer than requestTimeout (PT5S)")
        .hasMessageContaining("raise unavailableAfter or lower requestTimeout");
    b.unavailableAfter(Duration.ofSeconds(6));
    b.build().close();
    // The defaults (2 s, 5 s) satisfy the rule.
    EtcdConfigStore.builder().endpoints(etcd.endpoints()).build().close();
  }
}
