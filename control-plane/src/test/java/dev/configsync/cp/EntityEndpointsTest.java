package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.internal.ConfigHash;
import java.net.InetAddress;
import java.net.InetSocketAddress;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.time.Duration;
import java.util.List;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * {@code PUT} and {@code DELETE /config/{collection}/{key}} and {@code POST /config/changes} over a
 * real admin socket, with a real node: each edit publishes the whole configuration it makes from
 * the one in force, and a refused edit changes nothing.
 */
class EntityEndpointsTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private final HttpClient http =
      HttpClient.newBuilder().connectTimeout(Duration.ofSeconds(5)).build();

  @BeforeEach
  void start() throws Exception {
    f.start(b -> b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0)));
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private HttpResponse<String> send(String method, String path, @Nullable String body)
      throws Exception {
    return send(method, path, body, null);
  }

  private HttpResponse<String> send(
      String method, String path, @Nullable String body, @Nullable String ifMatch)
      throws Exception {
    URI uri = URI.create("http://127.0.0.1:" + f.cp.adminAddress().orElseThrow().getPort() + path);
    HttpRequest.Builder r =
        HttpRequest.newBuilder(uri)
            .timeout(Duration.ofSeconds(10))
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body.replace('\'', '"')));
    if (body != null) {
      r.header("Content-Type", "application/json");
    }
    if (ifMatch != null) {
      r.header("If-Match", ifMatch);
    }
    return http.send(r.build(), HttpResponse.BodyHandlers.ofString());
  }

  private JsonNode current() {
    return f.cp.currentConfig().orElseThrow().config();
  }

  private static JsonNode json(HttpResponse<String> response) throws Exception {
    return JSON.readTree(response.body());
  }

  private static JsonNode tree(String json) throws Exception {
    return JSON.readTree(json.replace('\'', '"'));
  }

  @Test
  void anEntityPutReplacesOneEntityAndTheNodeGetsTheWholeResult() throws Exception {
    List<ConfigSnapshot> snapshots = new CopyOnWriteArrayList<>();
    List<SyncEvent> events = new CopyOnWriteArrayList<>();
    ConfigSyncClient node = f.startClient(c -> c, snapshots, events);
    assertThat(
            send(
                    "PUT",
                    "/config",
                    "{'services':[{'id':'s1','name':'a','port':80},{'id':'s2','name':'b'}],"
                        + "'routes':[{'name':'r1','paths':['/a']}],'_format_version':'3.0'}")
                .statusCode())
        .isEqualTo(200);

    HttpResponse<String> put = send("PUT", "/config/services/s1", "{'name':'a','port':8080}");
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    JsonNode answer = json(put);
    assertThat(answer.path("changed").asBoolean()).isTrue();
    assertThat(answer.path("version").asLong()).isEqualTo(2);
    assertThat(put.headers().firstValue("ETag"))
        .hasValue("\"" + answer.path("hash").asText() + "\"");
    JsonNode expected =
        tree(
            "{'services':[{'id':'s1','name':'a','port':8080},{'id':'s2','name':'b'}],"
                + "'routes':[{'name':'r1','paths':['/a']}],'_format_version':'3.0'}");
    assertThat(current()).isEqualTo(expected);
    assertThat(answer.path("hash").asText()).isEqualTo(ConfigHash.configHash(expected));
    await().until(() -> answer.path("hash").asText().equals(node.status().hash()));
    // The node's listener is handed the whole result of the edit (after the status changes).
    await()
        .until(
            () ->
                !snapshots.isEmpty()
                    && answer
                        .path("hash")
                        .asText()
                        .equals(snapshots.get(snapshots.size() - 1).hash()));
    assertThat(snapshots.get(snapshots.size() - 1).config()).isEqualTo(expected);

    // Routes here are keyed by name (none has an id); a new one is appended.
    HttpResponse<String> added = send("PUT", "/config/routes/r2", "{'paths':['/b']}");
    assertThat(added.statusCode()).as(added.body()).isEqualTo(200);
    assertThat(current().path("routes"))
        .isEqualTo(tree("[{'name':'r1','paths':['/a']},{'paths':['/b'],'name':'r2'}]"));
    assertThat(json(added).path("version").asLong()).isEqualTo(3);

    // The same entity again: nothing changes, nothing is sent.
    HttpResponse<String> again = send("PUT", "/config/routes/r2", "{'paths':['/b']}");
    assertThat(again.statusCode()).isEqualTo(200);
    assertThat(json(again).path("changed").asBoolean()).isFalse();
    assertThat(json(again).path("version").asLong()).isEqualTo(3);
  }

  @Test
  void deleteRemovesOneEntityAndAnAbsentOneIsNotFound() throws Exception {
    send("PUT", "/config", "{'consumers':[{'username':'ann'},{'username':'bob'}]}");
    HttpResponse<String> deleted = send("DELETE", "/config/consumers/ann", null);
    assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
    assertThat(current()).isEqualTo(tree("{'consumers':[{'username':'bob'}]}"));

    String hash = f.cp.currentConfig().orElseThrow().hash();
    HttpResponse<String> missing = send("DELETE", "/config/consumers/ann", null);
    assertThat(missing.statusCode()).isEqualTo(404);
    assertThat(json(missing).path("error").asText()).isEqualTo("no_such_entity");
    assertThat(json(missing).path("message").asText()).contains("consumers", "username", "ann");
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);
  }

  @Test
  void aBatchIsOnePublishAndAnyBadEditRefusesTheWholeBatch() throws Exception {
    send(
        "PUT",
        "/config",
        "{'services':[{'id':'s1','name':'a'}],'routes':[{'id':'r1','name':'x','service':'s1'}]}");
    String before = f.cp.currentConfig().orElseThrow().hash();

    HttpResponse<String> refused =
        send(
            "POST",
            "/config/changes",
            "{'upsert':{'routes':[{'id':'r2','name':'y'}]},'delete':{'services':['nope']}}");
    assertThat(refused.statusCode()).isEqualTo(404);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(before);

    HttpResponse<String> batch =
        send(
            "POST",
            "/config/changes",
            "{'upsert':{'routes':[{'id':'r2','name':'y','service':'s1'}],"
                + "'upstreams':[{'name':'u1'}]},'delete':{'routes':['r1']}}");
    assertThat(batch.statusCode()).as(batch.body()).isEqualTo(200);
    assertThat(json(batch).path("version").asLong()).isEqualTo(2);
    assertThat(current())
        .isEqualTo(
            tree(
                "{'services':[{'id':'s1','name':'a'}],"
                    + "'routes':[{'id':'r2','name':'y','service':'s1'}],"
                    + "'upstreams':[{'name':'u1'}]}"));

    HttpResponse<String> keyless =
        send("POST", "/config/changes", "{'upsert':{'routes':[{'name':'no-id'}]}}");
    assertThat(keyless.statusCode()).isEqualTo(400);
    assertThat(json(keyless).path("message").asText()).contains("id");
  }

  @Test
  void ifMatchGuardsAnEditAndAMismatchIsAConflictThatChangesNothing() throws Exception {
    HttpResponse<String> first = send("PUT", "/config", "{'services':[{'name':'a'}]}");
    String hash = json(first).path("hash").asText();
    HttpResponse<String> stale =
        send("PUT", "/config/services/b", "{}", "\"" + "0".repeat(31) + "1\"");
    assertThat(stale.statusCode()).isEqualTo(409);
    assertThat(json(stale).path("current_hash").asText()).isEqualTo(hash);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);

    HttpResponse<String> fresh = send("PUT", "/config/services/b", "{}", "\"" + hash + "\"");
    assertThat(fresh.statusCode()).as(fresh.body()).isEqualTo(200);
    assertThat(current()).isEqualTo(tree("{'services':[{'name':'a'},{'name':'b'}]}"));
  }

  @Test
  void ifMatchGuardsDeletesAndBatchesAsItDoesPuts() throws Exception {
    HttpResponse<String> first = send("PUT", "/config", "{'services':[{'name':'a'},{'name':'b'}]}");
    String hash = json(first).path("hash").asText();
    String stale = "\"" + "0".repeat(31) + "1\"";

    HttpResponse<String> delete = send("DELETE", "/config/services/a", null, stale);
    assertThat(delete.statusCode()).as(delete.body()).isEqualTo(409);
    assertThat(json(delete).path("current_hash").asText()).isEqualTo(hash);
    HttpResponse<String> batch =
        send("POST", "/config/changes", "{'delete':{'services':['b']}}", stale);
    assertThat(batch.statusCode()).as(batch.body()).isEqualTo(409);
    assertThat(json(batch).path("current_hash").asText()).isEqualTo(hash);
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);

    HttpResponse<String> deleted = send("DELETE", "/config/services/a", null, "\"" + hash + "\"");
    assertThat(deleted.statusCode()).as(deleted.body()).isEqualTo(200);
    String next = json(deleted).path("hash").asText();
    HttpResponse<String> batched =
        send(
            "POST",
            "/config/changes",
            "{'upsert':{'services':[{'name':'c'}]}}",
            "\"" + next + "\"");
    assertThat(batched.statusCode()).as(batched.body()).isEqualTo(200);
    assertThat(current()).isEqualTo(tree("{'services':[{'name':'b'},{'name':'c'}]}"));
  }

  /**
   * The control plane checks no references itself (a validator is the embedder's, and {@code
   * configsync-cp} sets none); one that does sees an edit's whole result, as it sees a whole
   * configuration.
   */
  @Test
  void aValidatorSeesTheWholeResultOfAnEditSoADanglingReferenceIsRefused() throws Exception {
    f.close();
    f.start(
        b ->
            b.admin(new InetSocketAddress(InetAddress.getLoopbackAddress(), 0))
                .validator(EntityEndpointsTest::routesNameAServiceOfTheConfiguration));
    HttpResponse<String> first =
        send(
            "PUT",
            "/config",
            "{'services':[{'id':'s1','name':'a'}],'routes':[{'id':'r1','name':'x','service':'s1'}]}");
    assertThat(first.statusCode()).as(first.body()).isEqualTo(200);
    String hash = json(first).path("hash").asText();

    HttpResponse<String> delete = send("DELETE", "/config/services/s1", null);
    assertThat(delete.statusCode()).as(delete.body()).isEqualTo(400);
    assertThat(json(delete).path("error").asText()).isEqualTo("invalid_config");
    assertThat(json(delete).path("message").asText()).contains("route r1", "service s1");
    HttpResponse<String> route = send("PUT", "/config/routes/r2", "{'name':'y','service':'s9'}");
    assertThat(route.statusCode()).as(route.body()).isEqualTo(400);
    assertThat(json(route).path("message").asText()).contains("route r2", "service s9");
    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);

    HttpResponse<String> both =
        send("POST", "/config/changes", "{'delete':{'routes':['r1'],'services':['s1']}}");
    assertThat(both.statusCode()).as(both.body()).isEqualTo(200);
    assertThat(current()).isEqualTo(tree("{'services':[],'routes':[]}"));
  }

  /** A validator for the test above: every route's {@code service} is a service's id. */
  private static void routesNameAServiceOfTheConfiguration(JsonNode config) {
    java.util.Set<String> services = new java.util.HashSet<>();
    config.path("services").forEach(s -> services.add(s.path("id").asText()));
    for (JsonNode route : config.path("routes")) {
      String service = route.path("service").asText();
      if (!services.contains(service)) {
        throw new IllegalArgumentException(
            "route " + route.path("id").asText() + " names service " + service + ", not defined");
      }
    }
  }

  @Test
  void editsThatCannotBeMadeAreRefusedWithTheirReason() throws Exception {
    send(
        "PUT",
        "/config",
        "{'plugins':[{'name':'cors'},{'name':'cors'}],'_format_version':'3.0',"
            + "'services':[{'id':'s1','name':'a'}]}");
    String hash = f.cp.currentConfig().orElseThrow().hash();

    HttpResponse<String> notKeyed = send("PUT", "/config/plugins/p1", "{'name':'acl'}");
    assertThat(notKeyed.statusCode()).isEqualTo(409);
    assertThat(json(notKeyed).path("error").asText()).isEqualTo("not_keyed");

    HttpResponse<String> notCollection = send("PUT", "/config/_format_version/x", "{}");
    assertThat(notCollection.statusCode()).isEqualTo(409);
    assertThat(json(notCollection).path("error").asText()).isEqualTo("not_a_collection");

    HttpResponse<String> wrongKey = send("PUT", "/config/services/s1", "{'id':'s9'}");
    assertThat(wrongKey.statusCode()).isEqualTo(400);
    assertThat(json(wrongKey).path("message").asText()).contains("s9", "s1");

    HttpResponse<String> notObject = send("PUT", "/config/services/s1", "[1]");
    assertThat(notObject.statusCode()).isEqualTo(400);

    HttpResponse<String> badJson = send("PUT", "/config/services/s1", "{");
    assertThat(badJson.statusCode()).isEqualTo(400);

    HttpResponse<String> method = send("GET", "/config/services/s1", null);
    assertThat(method.statusCode()).isEqualTo(405);

    HttpResponse<String> tooDeep = send("PUT", "/config/services/s1/extra", "{}");
    assertThat(tooDeep.statusCode()).isEqualTo(404);

    assertThat(f.cp.currentConfig().orElseThrow().hash()).isEqualTo(hash);
  }

  @Test
  void theFirstEditOfAnEmptyControlPlaneMakesTheConfiguration() throws Exception {
    HttpResponse<String> put = send("PUT", "/config/services/a%2Bb", "{'url':'http://upstream'}");
    assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
    assertThat(current()).isEqualTo(tree("{'services':[{'url':'http://upstream','name':'a+b'}]}"));
    assertThat(json(put).path("version").asLong()).isEqualTo(1);
  }
}
