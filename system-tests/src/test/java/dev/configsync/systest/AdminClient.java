package dev.configsync.systest;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.MissingNode;
import java.io.IOException;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.Optional;

/**
 * The admin HTTP API of one {@code configsync-cp}, called as {@code curl} would: plain HTTP/1.1,
 * {@code Authorization: Bearer} with the token from the token file. Thread-safe.
 */
final class AdminClient {
  static final ObjectMapper JSON = new ObjectMapper();

  /** One answer: status, the body (parsed when it is JSON), and the configuration hash header. */
  record Answer(int status, String body, JsonNode json, Optional<String> etag) {
    /** The {@code hash} of a publish answer, or of an error body that names one. */
    String hash() {
      return json.path("hash").asText(null);
    }

    String error() {
      return json.path("error").asText("");
    }

    @Override
    public String toString() {
      return status + " " + body;
    }
  }

  private final URI base;
  private final String token;
  private final HttpClient http;

  AdminClient(URI base, String token) {
    this.base = base;
    this.token = token;
    this.http =
        HttpClient.newBuilder()
            .version(HttpClient.Version.HTTP_1_1)
            .connectTimeout(Duration.ofSeconds(5))
            .build();
  }

  URI base() {
    return base;
  }

  /** {@code PUT /config} with a JSON body; waits at most {@code timeout} for the answer. */
  Answer publish(String json, Duration timeout) throws IOException, InterruptedException {
    return publish(json, null, timeout);
  }

  /** {@code PUT /config}, with {@code If-Match: "ifMatch"} when it is not null. */
  Answer publish(String json, String ifMatch, Duration timeout)
      throws IOException, InterruptedException {
    HttpRequest.Builder request =
        request("/config", timeout)
            .header("Content-Type", "application/json")
            .PUT(HttpRequest.BodyPublishers.ofString(json));
    if (ifMatch != null) {
      request.header("If-Match", "\"" + ifMatch + "\"");
    }
    return send(request.build());
  }

  /** {@code PUT /config}, failing the test unless it answers 200; returns the published hash. */
  String publishOk(String json) {
    try {
      Answer answer = publish(json, Duration.ofSeconds(30));
      if (answer.status() != 200) {
        throw new AssertionError("PUT /config on " + base + " answered " + answer);
      }
      return answer.hash();
    } catch (IOException | InterruptedException e) {
      throw new AssertionError("PUT /config on " + base + " failed: " + e, e);
    }
  }

  /** {@code GET path}. */
  Answer get(String path) {
    try {
      return send(request(path, Duration.ofSeconds(20)).GET().build());
    } catch (IOException | InterruptedException e) {
      throw new AssertionError("GET " + path + " on " + base + " failed: " + e, e);
    }
  }

  /** {@code GET path}, with a short timeout and no assertion: for pollers during faults. */
  Answer tryGet(String path, Duration timeout) throws IOException, InterruptedException {
    return send(request(path, timeout).GET().build());
  }

  /** The hash of the configuration in force ({@code GET /config}'s ETag), null when none. */
  String configHash() {
    Answer answer = get("/config");
    return answer.status() == 404 ? null : answer.etag().orElse(null);
  }

  /** {@code GET /clustering/data-planes}'s {@code data}. */
  JsonNode dataPlanes() {
    Answer answer = get("/clustering/data-planes");
    if (answer.status() != 200) {
      throw new AssertionError("GET /clustering/data-planes answered " + answer);
    }
    return answer.json().path("data");
  }

  /** The entry of {@code GET /clustering/data-planes} whose hostname is {@code hostname}. */
  JsonNode dataPlane(String hostname) {
    for (JsonNode node : dataPlanes()) {
      if (node.path("hostname").asText().equals(hostname)) {
        return node;
      }
    }
    return MissingNode.getInstance();
  }

  private HttpRequest.Builder request(String path, Duration timeout) {
    return HttpRequest.newBuilder(base.resolve(path))
        .timeout(timeout)
        .header("Authorization", "Bearer " + token);
  }

  private Answer send(HttpRequest request) throws IOException, InterruptedException {
    HttpResponse<String> response = http.send(request, HttpResponse.BodyHandlers.ofString());
    JsonNode json;
    try {
      json = response.body().isEmpty() ? MissingNode.getInstance() : JSON.readTree(response.body());
    } catch (IOException e) {
      json = MissingNode.getInstance();
    }
    Optional<String> etag =
        response.headers().firstValue("ETag").map(v -> v.replace("\"", "").trim());
    return new Answer(response.statusCode(), response.body(), json, etag);
  }
}
