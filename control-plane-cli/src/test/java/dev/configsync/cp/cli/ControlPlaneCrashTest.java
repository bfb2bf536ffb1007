package dev.configsync.cp.cli;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.internal.ConfigHash;
import dev.configsync.testkit.TestPki;
import java.net.URI;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Random;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * {@code configsync-cp --store} killed with SIGKILL while entity edits go through its admin API
 * (each saved as a change in {@code config.journal} ahead of its whole frame): every restart serves
 * the last edit it answered, or the one it was answering when it died, never an older one and never
 * one that was not sent; and the versions it answers only grow.
 */
class ControlPlaneCrashTest {
  private static final ObjectMapper JSON = new ObjectMapper();
  private static final String TOKEN = "0b7c4e1f9a3d5e6c2b8a7f1e0d9c3b4a";
  private static final int KILLS = Integer.getInteger("configsync.cp.crash.kills", 6);
  private static final int ROUTES = 2_000;

  @TempDir Path dir;
  private final HttpClient http = HttpClient.newHttpClient();

  /** What the test knows of the configuration: the model the control plane should serve. */
  private ObjectNode model = routes();

  private static ObjectNode routes() {
    ObjectNode t = JSON.createObjectNode().put("_format_version", "3.0");
    t.putArray("services").addObject().put("id", "s1").put("name", "svc").put("host", "example");
    for (int i = 0; i < ROUTES; i++) {
      t.withArray("routes")
          .addObject()
          .put("id", "r" + i)
          .put("name", "route-" + i)
          .put("paths", "/p" + i + "/v0")
          .put("service", "s1");
    }
    return t;
  }

  @Test
  void aKilledControlPlaneRestartsOnTheLastEditItAnsweredOrTheOneInFlight() throws Exception {
    TestPki pki = TestPki.create();
    Path files = ControlPlaneMainArgumentsTest.writeControlPlaneFiles(pki, dir.resolve("pki"));
    Path token = Files.writeString(files.resolve("admin.token"), TOKEN + "\n");
    Files.setPosixFilePermissions(token, PosixFilePermissions.fromString("rw-------"));
    List<String> args =
        List.of(
            "--cert", files.resolve("cp.crt").toString(),
            "--key", files.resolve("cp.key").toString(),
            "--ca", files.resolve("ca.crt").toString(),
            "--listen", "127.0.0.1:0",
            "--admin-listen", "127.0.0.1:0",
            "--admin-token-file", token.toString(),
            "--store", dir.resolve("store").toString());
    long seed = new Random().nextLong();
    Random random = new Random(seed);
    long highestVersion = 0;
    int edits = 0;
    int inFlightKept = 0;
    int replays = 0;
    ObjectNode pending = null; // the edit the control plane was answering when it was killed
    for (int round = 0; round <= KILLS; round++) {
      try (ControlPlaneProcess cp =
          new ControlPlaneProcess(args, dir.resolve("cp-" + round + ".err"))) {
        int admin = cp.adminPort();
        if (cp.err().contains("Replayed")) {
          replays++; // it started on changes saved ahead of their whole frame
        }
        if (round == 0) {
          HttpResponse<String> put = send(admin, "PUT", "/config", model.toString());
          assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
          highestVersion = JSON.readTree(put.body()).path("version").asLong();
        } else {
          HttpResponse<String> served = send(admin, "GET", "/config", null);
          assertThat(served.statusCode()).isEqualTo(200);
          String hash = ConfigHash.configHash(JSON.readTree(served.body()));
          List<String> allowed = new ArrayList<>(List.of(ConfigHash.configHash(model)));
          if (pending != null) {
            allowed.add(ConfigHash.configHash(pending));
          }
          assertThat(hash)
              .as("round %d, seed %d: the last edit answered, or the one in flight", round, seed)
              .isIn(allowed);
          if (pending != null && hash.equals(ConfigHash.configHash(pending))) {
            model = pending;
            inFlightKept++;
          }
        }
        if (round == KILLS) {
          assertThat(cp.stop()).isZero();
          break;
        }
        // Edits one after the other until the kill; the last one sent may be unanswered.
        Editor editor = new Editor(admin, model, highestVersion, new Random(random.nextLong()));
        Thread writer = new Thread(editor, "edits");
        writer.start();
        writer.join(100 + random.nextInt(500)); // let it edit for a random while, then kill
        cp.kill();
        writer.join(30_000);
        assertThat(writer.isAlive()).isFalse();
        if (editor.failure != null) {
          throw new AssertionError("round " + round + ", seed " + seed, editor.failure);
        }
        edits += editor.answers.get();
        highestVersion = editor.version;
        model = editor.answered;
        pending = editor.inFlight;
      }
    }
    System.out.printf(
        "ControlPlaneCrashTest: %d kills, %d edits answered, %d edits in flight kept, %d starts"
            + " replayed the journal, seed %d%n",
        KILLS, edits, inFlightKept, replays, seed);
    assertThat(edits).as("edits were answered between the kills").isPositive();
  }

  /** Sends one route edit after another, recording the answers, until a request fails. */
  private final class Editor implements Runnable {
    private final int admin;
    private final Random random;
    volatile ObjectNode answered;
    volatile @Nullable ObjectNode inFlight;
    volatile long version;
    final java.util.concurrent.atomic.AtomicInteger answers =
        new java.util.concurrent.atomic.AtomicInteger();
    volatile @Nullable Throwable failure;

    Editor(int admin, ObjectNode answered, long version, Random random) {
      this.admin = admin;
      this.answered = answered;
      this.version = version;
      this.random = random;
    }

    @Override
    public void run() {
      try {
        while (true) {
          ObjectNode next = answered.deepCopy();
          int i = random.nextInt(ROUTES);
          ObjectNode route = (ObjectNode) next.withArray("routes").get(i);
          route.put("paths", "/p" + i + "/v" + random.nextInt(1_000_000));
          inFlight = next;
          HttpResponse<String> put;
          try {
            put = send(admin, "PUT", "/config/routes/r" + i, route.toString());
          } catch (java.io.IOException e) {
            return; // killed mid-request: this edit is in flight
          }
          assertThat(put.statusCode()).as(put.body()).isEqualTo(200);
          JsonNode answer = JSON.readTree(put.body());
          assertThat(answer.path("hash").asText()).isEqualTo(ConfigHash.configHash(next));
          assertThat(answer.path("version").asLong())
              .as("versions only grow")
              .isGreaterThan(version);
          version = answer.path("version").asLong();
          answered = next;
          answers.incrementAndGet();
          inFlight = null;
        }
      } catch (Throwable e) {
        failure = e;
      }
    }
  }

  private HttpResponse<String> send(int port, String method, String path, @Nullable String body)
      throws Exception {
    HttpRequest.Builder request =
        HttpRequest.newBuilder(URI.create("http://127.0.0.1:" + port + path))
            .timeout(Duration.ofSeconds(30))
            .header("Authorization", "Bearer " + TOKEN)
            .method(
                method,
                body == null
                    ? HttpRequest.BodyPublishers.noBody()
                    : HttpRequest.BodyPublishers.ofString(body));
    if (body != null) {
      request.header("Content-Type", "application/json");
    }
    return http.send(request.build(), HttpResponse.BodyHandlers.ofString());
  }
}
