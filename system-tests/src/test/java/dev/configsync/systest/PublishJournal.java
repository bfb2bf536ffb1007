package dev.configsync.systest;

import com.fasterxml.jackson.databind.node.ObjectNode;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.ConnectException;
import java.net.http.HttpConnectTimeoutException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.time.Instant;
import java.util.ArrayList;
import java.util.List;
import java.util.Set;
import java.util.function.Predicate;

/**
 * Every publish a test made and what it was answered, with times, in the manner of Jepsen's
 * histories: an answer is sorted into {@link Outcome#PUBLISHED}, {@link Outcome#NOT_PUBLISHED} (the
 * control plane said nothing was published, or the request never reached it) or {@link
 * Outcome#UNKNOWN} (no answer, a timeout, a reset, a 500, or any answer that does not say either:
 * such an outcome is recorded as unknown, never counted as a failure). Thread-safe.
 */
final class PublishJournal {
  enum Outcome {
    PUBLISHED,
    NOT_PUBLISHED,
    UNKNOWN
  }

  /**
   * One publish: {@code id} is unique and is carried inside the configuration ({@code
   * systest.version}), so it can be found in etcd's history whatever hash it was given.
   */
  record Attempt(
      String id,
      String client,
      String replica,
      Instant sent,
      Instant answered,
      Outcome outcome,
      int status,
      String error,
      String hash,
      String detail) {
    ObjectNode toJson() {
      ObjectNode o = AdminClient.JSON.createObjectNode();
      o.put("id", id).put("client", client).put("replica", replica);
      o.put("sent", sent.toString()).put("answered", answered.toString());
      o.put("outcome", outcome.name()).put("status", status).put("error", error);
      o.put("hash", hash).put("detail", detail);
      return o;
    }
  }

  /** Error codes whose answer says that nothing was published (docs/control-plane.md). */
  private static final Set<String> NOTHING_PUBLISHED =
      Set.of("store_unavailable", "busy", "shutting_down", "conflict");

  private final List<Attempt> attempts = new ArrayList<>();

  /**
   * Publishes {@code config} (whose {@code systest.version} is {@code id}) on {@code replica},
   * waiting up to {@code timeout}, records the attempt and returns it.
   */
  Attempt publish(
      ControlPlaneProcess replica, String client, String id, String config, Duration timeout) {
    return publish(replica, client, id, config, null, timeout);
  }

  /** As {@link #publish}, with {@code If-Match: "ifMatch"} unless it is null. */
  Attempt publish(
      ControlPlaneProcess replica,
      String client,
      String id,
      String config,
      String ifMatch,
      Duration timeout) {
    Instant sent = Instant.now();
    Attempt attempt;
    try {
      AdminClient.Answer answer = replica.admin().publish(config, ifMatch, timeout);
      attempt =
          new Attempt(
              id,
              client,
              replica.name(),
              sent,
              Instant.now(),
              classify(answer.status(), answer.error()),
              answer.status(),
              answer.error(),
              answer.hash(),
              truncate(answer.body()));
    } catch (IOException e) {
      // A refused connection never reached a control plane; anything later may have.
      Outcome outcome = isRefusedConnection(e) ? Outcome.NOT_PUBLISHED : Outcome.UNKNOWN;
      attempt =
          new Attempt(
              id, client, replica.name(), sent, Instant.now(), outcome, 0, "", null, e.toString());
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt();
      attempt =
          new Attempt(
              id,
              client,
              replica.name(),
              sent,
              Instant.now(),
              Outcome.UNKNOWN,
              0,
              "",
              null,
              "interrupted while waiting for the answer");
    }
    synchronized (this) {
      attempts.add(attempt);
    }
    return attempt;
  }

  static Outcome classify(int status, String error) {
    if (status == 200) {
      return Outcome.PUBLISHED;
    }
    if (status >= 400 && status < 500) {
      return Outcome.NOT_PUBLISHED; // refused before anything was written (409 included)
    }
    if (status == 503 && NOTHING_PUBLISHED.contains(error)) {
      return Outcome.NOT_PUBLISHED;
    }
    return Outcome.UNKNOWN;
  }

  private static boolean isRefusedConnection(IOException e) {
    for (Throwable t = e; t != null; t = t.getCause()) {
      if (t instanceof ConnectException && !(t instanceof HttpConnectTimeoutException)) {
        return true;
      }
    }
    return false;
  }

  synchronized List<Attempt> attempts() {
    return List.copyOf(attempts);
  }

  synchronized int count(Predicate<Attempt> which) {
    return (int) attempts.stream().filter(which).count();
  }

  /** Writes the journal as JSON lines, for whoever reads a failure. */
  synchronized void write(Path file) {
    StringBuilder b = new StringBuilder();
    for (Attempt a : attempts) {
      b.append(a.toJson()).append('\n');
    }
    try {
      Files.writeString(file, b, StandardCharsets.UTF_8);
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static String truncate(String body) {
    return body.length() > 300 ? body.substring(0, 300) + "..." : body;
  }
}
