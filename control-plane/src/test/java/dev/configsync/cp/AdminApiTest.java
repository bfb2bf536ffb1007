package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/** The admin HTTP API over a real socket, with java.net.http. */
class AdminApiTest {
  private static final String TOKEN = "s3cret-token-0123456789";
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private void start(boolean token) throws Exception {
    f.start(
        b -> {
          b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
              .maxAdminBodyBytes(64 * 1024);
          return token ? b.adminToken(TOKEN) : b;
        });
  }

  private URI uri(String path) {
    return URI.create("http://127.0.0.1:" + f.cp.adminAddress().orElseThrow().getPort() + path);
  }

  private HttpResponse<String> send(HttpRequest.Builder request) throws Exception {
    return http.send(
        request.timeout(Duration.ofSeconds(10)).build(), HttpResponse.BodyHandlers.ofString());
  }

  private HttpResponse<String> put(String body, String contentType) throws Exception {
    HttpRequest.Builder r =
        HttpRequest.newBuilder(uri("/config")).PUT(HttpRequest.BodyPublishers.ofString(body));
    if (contentType != null) {
      r.header("Content-Type", contentType);
    }
    return send(r);
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    assertThat(response.headers().firstValue("Content-Type")).hasValue("application/json");
    return JSON.readTree(response.body());
  }

  @Test
  void publishesJsonAndYamlAndAnswersWithTheHash() throws Exception {
    start(false);
    HttpResponse<String> jsonPut = put("{\"services\":[{\"name\":\"a\"}]}", "application/json");
    assertThat(jsonPut.statusCode()).isEqualTo(200);
    JsonNode answer = json(jsonPut);
    assertThat(answer.path("hash").asText()).isEqualTo(f.cp.currentConfig().orElseThrow().hash());
    assertThat(answer.path("changed").asBoolean()).isTrue();

    HttpResponse<String> yamlPut =
        put("services:\n  - name: a\n", "application/yaml; charset=utf-8");
    assertThat(yamlPut.statusCode()).isEqualTo(200);
    assertThat(json(yamlPut).path("hash").asText()).isEqualTo(answer.path("hash").asText());
    assertThat(json(yamlPut).path("changed").asBoolean()).isFalse();

    HttpResponse<String> get = send(HttpRequest.newBuilder(uri("/config")).GET());
    assertThat(get.statusCode()).isEqualTo(200);
    assertThat(json(get).path("services").get(0).path("name").asText()).isEqualTo("a");
    assertThat(get.headers().firstValue("ETag"))
        .hasValue("\"" + answer.path("hash").asText() + "\"");
  }

  @Test
  void everyEncodingOfAJsonBodyReachesTheNodesAsTheSameConfiguration() throws Exception {
    // A UTF-8 body goes into the frame as sent (pretty-printed here); a body with a byte order
    // mark, or in UTF-16, is written again from its tree. Nodes must read each one back exactly.
    start(false);
    var snapshots = new java.util.concurrent.CopyOnWriteArrayList<dev.configsync.ConfigSnapshot>();
    var events = new java.util.concurrent.CopyOnWriteArrayList<dev.configsync.SyncEvent>();
    var client = f.startClient(c -> c, snapshots, events);
    int n = 0;
    for (java.nio.charset.Charset charset :
        List.of(
            java.nio.charset.StandardCharsets.UTF_8,
            java.nio.charset.StandardCharsets.UTF_16LE,
            java.nio.charset.StandardCharsets.UTF_16BE)) {
      for (String bom : List.of("", "\uFEFF")) {
        if (!bom.isEmpty() && !charset.equals(java.nio.charset.StandardCharsets.UTF_8)) {
          continue;
        }
        String text =
            bom
                + "{\n  \"services\": [\n    {\"name\": \"caf\u00e9-"
                + n++
                + "\", \"port\": 8000, \"tags\": [\"\u2603\"]}\n  ]\n}\n";
        HttpResponse<String> response =
            send(
                HttpRequest.newBuilder(uri("/config"))
                    .header("Content-Type", "application/json")
                    .PUT(HttpRequest.BodyPublishers.ofByteArray(text.getBytes(charset))));
        assertThat(response.statusCode()).as(charset + " " + !bom.isEmpty()).isEqualTo(200);
        String hash = json(response).path("hash").asText();
        org.awaitility.Awaitility.await().until(() -> hash.equals(client.status().hash()));
        // The listener runs after the status shows the hash, on the listener executor.
        org.awaitility.Awaitility.await()
            .until(
                () ->
                    !snapshots.isEmpty()
                        && hash.equals(snapshots.get(snapshots.size() - 1).hash()));
        assertThat(snapshots.get(snapshots.size() - 1).config())
            .isEqualTo(JSON.readTree(text.substring(bom.length())));
      }
    }
    assertThat(n).isEqualTo(4);
  }

  @Test
  void aBodyRefusedWhileItIsStillArrivingStillGetsItsAnswer() throws Exception {
    // The server answers before the client has sent the body: closing at once would reset the
    // connection under the client's feet, and the answer could be lost with it.
    start(true);
    String big = "{\"x\":\"" + "a".repeat(4 * 1024 * 1024) + "\"}";
    for (int i = 0; i < 5; i++) {
      HttpResponse<String> tooLarge =
          send(
              HttpRequest.newBuilder(uri("/config"))
                  .header("Authorization", "Bearer " + TOKEN)
                  .header("Content-Type", "application/json")
                  .PUT(HttpRequest.BodyPublishers.ofString(big)));
      assertThat(tooLarge.statusCode()).isEqualTo(413);
      assertThat(json(tooLarge).path("error").asText()).isEqualTo("too_large");
      HttpResponse<String> unauthorized =
          send(
              HttpRequest.newBuilder(uri("/config"))
                  .header("Content-Type", "application/json")
                  .PUT(HttpRequest.BodyPublishers.ofString(big)));
      assertThat(unauthorized.statusCode()).isEqualTo(401);
    }
    assertThat(f.cp.currentConfig()).isEmpty();
  }

  @Test
  void refusesBadConfigurationsWithAClearJsonErrorAndPublishesNothing() throws Exception {
    start(false);
    HttpResponse<String> badJson = put("{\"services\": [", "application/json");
    assertThat(badJson.statusCode()).isEqualTo(400);
    assertThat(json(badJson).path("message").asText()).contains("not valid JSON at line 1");

    HttpResponse<String> badYaml = put("services:\n  - a: [\n", "application/yaml");
    assertThat(badYaml.statusCode()).isEqualTo(400);
    assertThat(json(badYaml).path("message").asText()).contains("request body:");

    HttpResponse<String> array = put("[1]", "application/json");
    assertThat(array.statusCode()).isEqualTo(400);
    assertThat(json(array).path("message").asText()).contains("must be a JSON object");

    HttpResponse<String> noType = put("{}", null);
    assertThat(noType.statusCode()).isEqualTo(415);
    assertThat(json(noType).path("message").asText())
        .contains("application/json or application/yaml");

    HttpResponse<String> tooLarge =
        put("{\"x\":\"" + "a".repeat(70 * 1024) + "\"}", "application/json");
    assertThat(tooLarge.statusCode()).isEqualTo(413);
    assertThat(json(tooLarge).path("message").asText()).contains("maxAdminBodyBytes");

    assertThat(f.cp.currentConfig()).isEmpty();
    HttpResponse<String> none = send(HttpRequest.newBuilder(uri("/config")).GET());
    assertThat(none.statusCode()).isEqualTo(404);
    assertThat(json(none).path("error").asText()).isEqualTo("no_config");
  }

  @Test
  void listsDataPlanesAndStatus() throws Exception {
    start(false);
    var snapshots = new java.util.concurrent.CopyOnWriteArrayList<dev.configsync.ConfigSnapshot>();
    var events = new java.util.concurrent.CopyOnWriteArrayList<dev.configsync.SyncEvent>();
    var client = f.startClient(c -> c.label("zone", "a"), snapshots, events);
    String hash = json(put("{\"services\":[]}", "application/json")).path("hash").asText();
    org.awaitility.Awaitility.await().until(() -> hash.equals(client.status().hash()));
    org.awaitility.Awaitility.await()
        .until(() -> f.cp.dataPlanes().get(0).configHash().equals(hash));

    JsonNode planes = json(send(HttpRequest.newBuilder(uri("/clustering/data-planes")).GET()));
    JsonNode node = planes.path("data").get(0);
    assertThat(node.path("id").asText()).isEqualTo(client.status().nodeId().toString());
    assertThat(node.path("config_hash").asText()).isEqualTo(hash);
    assertThat(node.path("sync_status").asText()).isEqualTo("normal");
    assertThat(node.path("ip").asText()).isEqualTo("127.0.0.1");
    assertThat(node.path("labels").path("zone").asText()).isEqualTo("a");
    assertThat(node.path("last_seen").isNumber()).isTrue();

    JsonNode status = json(send(HttpRequest.newBuilder(uri("/status")).GET()));
    assertThat(status.path("config_hash").asText()).isEqualTo(hash);
    assertThat(status.path("data_planes").path("connected").asInt()).isEqualTo(1);
    assertThat(status.path("data_planes").path("in_sync").asInt()).isEqualTo(1);
  }

  @Test
  void unknownPathsAndMethodsGetJsonErrors() throws Exception {
    start(false);
    HttpResponse<String> missing = send(HttpRequest.newBuilder(uri("/nope")).GET());
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(json(missing).path("message").asText()).contains("/config");
    HttpResponse<String> wrong = send(HttpRequest.newBuilder(uri("/status")).DELETE());
    assertThat(wrong.statusCode()).isEqualTo(405);
    assertThat(wrong.headers().firstValue("Allow")).hasValue("GET");
  }

  @Test
  void withATokenRefusesRequestsWithoutIt() throws Exception {
    start(true);
    HttpResponse<String> none = send(HttpRequest.newBuilder(uri("/status")).GET());
    assertThat(none.statusCode()).isEqualTo(401);
    assertThat(none.headers().firstValue("WWW-Authenticate")).isPresent();
    assertThat(json(none).path("message").asText()).contains("Authorization: Bearer");

    HttpResponse<String> wrong =
        send(
            HttpRequest.newBuilder(uri("/config"))
                .header("Authorization", "Bearer not-the-token")
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{}")));
    assertThat(wrong.statusCode()).isEqualTo(401);
    assertThat(f.cp.currentConfig()).isEmpty();

    HttpResponse<String> right =
        send(
            HttpRequest.newBuilder(uri("/config"))
                .header("Authorization", "Bearer " + TOKEN)
                .header("Content-Type", "application/json")
                .PUT(HttpRequest.BodyPublishers.ofString("{}")));
    assertThat(right.statusCode()).isEqualTo(200);
    assertThat(f.cp.currentConfig()).isPresent();
  }

  @Test
  void theAdminApiIsOffUnlessAsked() throws Exception {
    f.start(b -> b);
    assertThat(f.cp.adminAddress()).isEmpty();
  }

  @Test
  void anUnauthenticatedBodyIsRefusedFromItsHeadersWithoutBeingRead() throws Exception {
    start(true);
    try (java.net.Socket socket =
        new java.net.Socket(
            InetAddress.getLoopbackAddress(), f.cp.adminAddress().orElseThrow().getPort())) {
      socket.setSoTimeout(5000);
      var out = socket.getOutputStream();
      out.write(
          ("PUT /config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                  + "Content-Length: 4000000\r\n\r\n{\"a\":")
              .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      out.flush();
      // The answer comes at once, long before the announced 4 MB could have been sent.
      String status =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(
                      socket.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII))
              .readLine();
      assertThat(status).startsWith("HTTP/1.1 401");
    }
    assertThat(f.cp.currentConfig()).isEmpty();
  }

  @Test
  void withoutATokenOnlyLoopbackHostNamesAreServed() throws Exception {
    start(false);
    try (java.net.Socket socket =
        new java.net.Socket(
            InetAddress.getLoopbackAddress(), f.cp.adminAddress().orElseThrow().getPort())) {
      socket.setSoTimeout(5000);
      socket
          .getOutputStream()
          .write(
              "GET /status HTTP/1.1\r\nHost: evil.example:8001\r\n\r\n"
                  .getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      String status =
          new java.io.BufferedReader(
                  new java.io.InputStreamReader(
                      socket.getInputStream(), java.nio.charset.StandardCharsets.US_ASCII))
              .readLine();
      assertThat(status).startsWith("HTTP/1.1 403");
    }
  }

  @Test
  void aValidatorThatFailsGetsA500NotASilence() throws Exception {
    f.start(
        b ->
            b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .validator(
                    c -> {
                      throw new NullPointerException("a bug in the validator");
                    }));
    HttpResponse<String> response = put("{}", "application/json");
    assertThat(response.statusCode()).isEqualTo(500);
    assertThat(json(response).path("error").asText()).isEqualTo("internal_error");
    assertThat(f.cp.currentConfig()).isEmpty();
  }

  @Test
  void pipelinedRequestsAreAnsweredInOrder() throws Exception {
    start(false);
    String put = "{\"services\":[{\"name\":\"a\"}],\"routes\":[]}";
    List<String> answers =
        exchange(
            4,
            "GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "PUT /config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
                + "Content-Length: "
                + put.length()
                + "\r\n\r\n"
                + put
                + "GET /config HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
                + "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n");
    assertThat(answers.get(0)).startsWith("404 ").contains("no_config");
    assertThat(answers.get(1)).startsWith("200 ").contains("\"hash\"");
    // The GET sent after the PUT sees what the PUT published.
    assertThat(answers.get(2)).startsWith("200 ").contains("\"name\":\"a\"");
    assertThat(answers.get(3)).startsWith("200 ").contains("\"config_hash\"");
  }

  @Test
  void aRefusalDoesNotOvertakeTheAnswersBeforeIt() throws Exception {
    start(false);
    String status = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    assertThat(exchange(2, status + "GET /status HTTP/1.1\r\nHost: evil.example\r\n\r\n"))
        .satisfiesExactly(
            a -> assertThat(a).startsWith("200 ").contains("\"config_hash\""),
            a -> assertThat(a).startsWith("403 ").contains("forbidden"));
    assertThat(
            exchange(
                2,
                status
                    + "PUT /config HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json"
                    + "\r\nContent-Length: 9999999\r\n\r\n{\"services\":"))
        .satisfiesExactly(
            a -> assertThat(a).startsWith("200 ").contains("\"config_hash\""),
            a -> assertThat(a).startsWith("413 ").contains("too_large"));
    assertThat(f.cp.currentConfig()).isEmpty();
  }

  @Test
  void aRequestTargetThatIsNotAUriIsAnswered400AndEndsTheConnection() throws Exception {
    start(false);
    String status = "GET /status HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    // Three requests sent at once: the second cannot be decoded; the third is never answered.
    assertThat(exchange(2, status + "GET /%zz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n" + status))
        .satisfiesExactly(
            a -> assertThat(a).startsWith("200 "),
            a -> assertThat(a).startsWith("400 ").contains("bad_request", "not a valid URI"));
  }

  @Test
  void anOversizedBodyThatExpects100ContinueGetsTheJson413() throws Exception {
    start(false);
    assertThat(
            exchange(
                1,
                String.join(
                    "\r\n",
                    "PUT /config HTTP/1.1",
                    "Host: 127.0.0.1",
                    "Content-Type: application/json",
                    "Expect: 100-continue",
                    "Content-Length: 9999999",
                    "",
                    "")))
        .satisfiesExactly(a -> assertThat(a).startsWith("413 ").contains("too_large"));
  }

  /**
   * Sends {@code requests} in one write, without waiting for any answer, and reads {@code answers}
   * answers; then checks that the server ended the connection.
   */
  private List<String> exchange(int answers, String requests) throws Exception {
    try (java.net.Socket socket =
        new java.net.Socket(
            InetAddress.getLoopbackAddress(), f.cp.adminAddress().orElseThrow().getPort())) {
      socket.setSoTimeout(10_000);
      socket.getOutputStream().write(requests.getBytes(java.nio.charset.StandardCharsets.UTF_8));
      java.io.DataInputStream in = new java.io.DataInputStream(socket.getInputStream());
      List<String> out = new java.util.ArrayList<>();
      for (int i = 0; i < answers; i++) {
        out.add(readResponse(in));
      }
      assertThat(in.read()).as("the connection ends after the last answer").isEqualTo(-1);
      return out;
    }
  }

  /** Reads one HTTP/1.1 response with a Content-Length: its status code and reason, then body. */
  private static String readResponse(java.io.DataInputStream in) throws java.io.IOException {
    String status = readLine(in);
    int length = -1;
    for (String header = readLine(in); !header.isEmpty(); header = readLine(in)) {
      if (header.toLowerCase(java.util.Locale.ROOT).startsWith("content-length:")) {
        length = Integer.parseInt(header.substring(header.indexOf(':') + 1).trim());
      }
    }
    assertThat(length).as("Content-Length of '%s'", status).isNotNegative();
    byte[] body = new byte[length];
    in.readFully(body);
    return status.substring("HTTP/1.1 ".length())
        + "\n"
        + new String(body, java.nio.charset.StandardCharsets.UTF_8);
  }

  private static String readLine(java.io.DataInputStream in) throws java.io.IOException {
    StringBuilder line = new StringBuilder();
    for (int c = in.read(); c != '\n'; c = in.read()) {
      if (c < 0) {
        throw new java.io.EOFException("the connection ended mid-line: " + line);
      }
      if (c != '\r') {
        line.append((char) c);
      }
    }
    return line.toString();
  }
}
