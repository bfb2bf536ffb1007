package dev.configsync.cp;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigHashes;
import dev.configsync.ConfigSyncException;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.delta.IndexedConfig;
import io.netty.buffer.ByteBufUtil;
import io.netty.handler.codec.http.FullHttpRequest;
import io.netty.handler.codec.http.FullHttpResponse;
import io.netty.handler.codec.http.HttpHeaderNames;
import io.netty.handler.codec.http.HttpMethod;
import io.netty.handler.codec.http.HttpResponseStatus;
import io.netty.handler.codec.http.QueryStringDecoder;
import java.io.IOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Optional;
import java.util.TreeMap;
import java.util.function.Supplier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The admin HTTP API's endpoints: {@code PUT /config}, {@code GET /config}, {@code GET
 * /config/history}, {@code GET /clustering/data-planes}, {@code GET /status}, {@code GET /usage},
 * {@code GET /metrics} (the Prometheus text format, see {@link MetricsPage}). Every error is a 4xx
 * or 5xx with a JSON body {@code {"error": code, "message": text}}; a request that fails publishes
 * nothing. Depends on the control plane through {@link AdminBackend} only; the connections, their
 * limits and the order of answers are {@link AdminConnections}'s.
 *
 * <p>Threading: {@link #route} runs on a connection's event loop and only decides; the answers it
 * returns are built on the admin threads. Stateless apart from its collaborators: thread-safe.
 */
final class AdminEndpoints {
  private static final Logger log = LoggerFactory.getLogger(AdminEndpoints.class);
  private static final Path BODY = Path.of("request body");

  private final AdminBackend backend;
  private final AdminConnectionCounts counts;

  AdminEndpoints(AdminBackend backend, AdminConnectionCounts counts) {
    this.backend = backend;
    this.counts = counts;
  }

  /** How to answer {@code request}, a complete request whose head was accepted. */
  AdminAnswer route(FullHttpRequest request) {
    String path;
    try {
      path = new QueryStringDecoder(request.uri()).path();
    } catch (IllegalArgumentException e) {
      return new AdminAnswer.Now(
          HttpJson.error(
              HttpResponseStatus.BAD_REQUEST,
              "bad_request",
              "the request target is not a valid URI ("
                  + LogSafe.text(String.valueOf(e.getMessage()), 100)
                  + ")"),
          true);
    }
    if (path.length() > 1 && path.endsWith("/")) {
      path = path.substring(0, path.length() - 1);
    }
    HttpMethod method = request.method();
    if (path.startsWith("/config/") && !path.equals("/config/history")) {
      return entities(request, method);
    }
    return switch (path) {
      case "/config" -> {
        if (method.equals(HttpMethod.GET)) {
          yield new AdminAnswer.Read(this::getConfig);
        } else if (method.equals(HttpMethod.PUT) || method.equals(HttpMethod.POST)) {
          byte[] body = ByteBufUtil.getBytes(request.content());
          String type = request.headers().get(HttpHeaderNames.CONTENT_TYPE);
          String ifMatch = request.headers().get(HttpHeaderNames.IF_MATCH);
          yield new AdminAnswer.Publish(() -> putConfig(body, type, ifMatch));
        } else {
          yield new AdminAnswer.Now(notAllowed("GET, PUT"), false);
        }
      }
      case "/config/history" -> {
        String limit = firstParameter(request.uri(), "limit");
        yield get(method, () -> history(limit));
      }
      case "/clustering/data-planes" -> get(method, this::dataPlanes);
      case "/status" -> get(method, this::status);
      case "/usage" -> get(method, this::usage);
      case "/metrics" -> get(method, this::metrics);
      default ->
          new AdminAnswer.Now(
              HttpJson.error(
                  HttpResponseStatus.NOT_FOUND,
                  "not_found",
                  "no endpoint at "
                      + path
                      + "; the admin API has /config, /config/{collection}/{key},"
                      + " /config/changes, /config/history, /clustering/data-planes, /status,"
                      + " /usage and /metrics"),
              false);
    };
  }

  /** A read-only endpoint: {@code answer} on a read thread for a GET, 405 for anything else. */
  private static AdminAnswer get(HttpMethod method, Supplier<FullHttpResponse> answer) {
    return method.equals(HttpMethod.GET)
        ? new AdminAnswer.Read(answer)
        : new AdminAnswer.Now(notAllowed("GET"), false);
  }

  private static FullHttpResponse notAllowed(String allow) {
    FullHttpResponse response =
        HttpJson.error(
            HttpResponseStatus.METHOD_NOT_ALLOWED,
            "method_not_allowed",
            "this endpoint accepts " + allow);
    response.headers().set(HttpHeaderNames.ALLOW, allow);
    return response;
  }

  private FullHttpResponse getConfig() {
    Optional<PublishedConfig> current = backend.currentConfig();
    if (current.isEmpty()) {
      return HttpJson.error(
          HttpResponseStatus.NOT_FOUND, "no_config", "no configuration has been published yet");
    }
    FullHttpResponse response = HttpJson.response(HttpResponseStatus.OK, current.get().config());
    response.headers().set(HttpHeaderNames.ETAG, "\"" + current.get().hash() + "\"");
    response.headers().set("X-Config-Hash", current.get().hash());
    return response;
  }

  /**
   * {@code PUT /config}, on the admin publish thread (parsing, hashing, compressing and storing may
   * take a while); with an {@code If-Match} header (the {@code ETag} of {@code GET /config}),
   * publishes only if that is still the configuration in force.
   */
  private FullHttpResponse putConfig(
      byte[] body, @Nullable String contentType, @Nullable String ifMatchHeader) {
    IfMatch ifMatch = IfMatch.parse(ifMatchHeader);
    if (ifMatch.invalid() != null) {
      return ifMatch.invalid();
    }
    String media = media(contentType);
    return publishing(
        () -> {
          JsonNode config;
          byte[] json = null; // the body, when it can go into the frame as it is
          try {
            switch (media) {
              case "application/json" -> {
                config = ConfigJson.parse(body);
                json = ConfigJson.isPlainUtf8(body) ? body : null;
              }
              case "application/yaml", "application/x-yaml", "text/yaml", "text/x-yaml" ->
                  config = new YamlConfigFormat().read(BODY, body, Integer.MAX_VALUE);
              default -> {
                backend.publishStats().failed(PublishStats.Failure.INVALID);
                return unsupportedMedia(media, "application/json or application/yaml");
              }
            }
          } catch (RuntimeException e) {
            backend.publishStats().failed(e); // a body that cannot be read is a failed publish too
            throw e;
          } catch (IOException e) {
            backend.publishStats().failed(PublishStats.Failure.INVALID);
            throw e;
          }
          return published(backend.publish(config, ifMatch.hash(), json), config);
        });
  }

  /**
   * {@code PUT}, {@code DELETE /config/{collection}/{key}} and {@code POST /config/changes}: entity
   * edits of the configuration in force, published as a whole configuration through the same path
   * as {@code PUT /config} (validator, size limit, store, every node), on the admin publish thread.
   */
  private AdminAnswer entities(FullHttpRequest request, HttpMethod method) {
    String raw = request.uri();
    int query = raw.indexOf('?');
    String[] segments = (query < 0 ? raw : raw.substring(0, query)).split("/", -1);
    // "", "config", then one segment (changes) or two (collection, key)
    String ifMatch = request.headers().get(HttpHeaderNames.IF_MATCH);
    String media = media(request.headers().get(HttpHeaderNames.CONTENT_TYPE));
    byte[] body = ByteBufUtil.getBytes(request.content());
    if (segments.length == 3 && segments[2].equals("changes")) {
      if (!method.equals(HttpMethod.POST)) {
        return new AdminAnswer.Now(notAllowed("POST"), false);
      }
      return new AdminAnswer.Publish(() -> editing(ifMatch, media, body, EntityEdits::batch));
    }
    String collection = segments.length == 4 ? decode(segments[2]) : null;
    String key = segments.length == 4 ? decode(segments[3]) : null;
    if (collection == null || key == null || collection.isEmpty() || key.isEmpty()) {
      return new AdminAnswer.Now(
          HttpJson.error(
              HttpResponseStatus.NOT_FOUND,
              "not_found",
              "no endpoint at "
                  + LogSafe.text(raw, 120)
                  + "; entities are at /config/{collection}/{key} (PUT, DELETE), batches at"
                  + " /config/changes (POST)"),
          false);
    }
    if (method.equals(HttpMethod.PUT)) {
      return new AdminAnswer.Publish(
          () ->
              editing(
                  ifMatch,
                  media,
                  body,
                  (base, parsed) -> List.of(new EntityEdits.Edit(collection, key, parsed))));
    }
    if (method.equals(HttpMethod.DELETE)) {
      return new AdminAnswer.Publish(
          () ->
              editing(
                  ifMatch,
                  null,
                  null,
                  (base, parsed) -> List.of(new EntityEdits.Edit(collection, key, null))));
    }
    return new AdminAnswer.Now(notAllowed("PUT, DELETE"), false);
  }

  /** Makes edits from the configuration in force and a parsed JSON body (null when none). */
  @FunctionalInterface
  private interface EditsFrom {
    List<EntityEdits.Edit> edits(IndexedConfig base, @Nullable JsonNode body);
  }

  /**
   * Publishes the configuration that edits make from the one in force. Without {@code If-Match}, a
   * conflict with a publish that came between (another replica's) is retried on the new
   * configuration, up to three attempts in all; with it, the conflict is the answer.
   */
  private FullHttpResponse editing(
      @Nullable String ifMatchHeader,
      @Nullable String media,
      byte @Nullable [] body,
      EditsFrom editsFrom) {
    IfMatch ifMatch = IfMatch.parse(ifMatchHeader);
    if (ifMatch.invalid() != null) {
      return ifMatch.invalid();
    }
    if (body != null && !"application/json".equals(media)) {
      backend.publishStats().failed(PublishStats.Failure.INVALID);
      return unsupportedMedia(media == null ? "" : media, "application/json");
    }
    return publishing(
        () -> {
          JsonNode parsed = null;
          if (body != null) {
            try {
              parsed = ConfigJson.parse(body);
            } catch (RuntimeException e) {
              backend.publishStats().failed(e);
              throw e;
            }
          }
          for (int attempt = 1; ; attempt++) {
            Optional<IndexedConfig> inForce = backend.currentIndexed();
            String baseHash = inForce.map(c -> c.hashes().config()).orElse(ConfigHash.NONE);
            IndexedConfig current =
                inForce.orElseGet(() -> IndexedConfig.of(HttpJson.MAPPER.createObjectNode()));
            if (ifMatch.hash() != null && !ifMatch.hash().equals(baseHash)) {
              throw new PublishConflictException(
                  baseHash,
                  "the configuration in force is "
                      + baseHash
                      + ", not the expected "
                      + ifMatch.hash()
                      + "; read it again, and send the change again");
            }
            EntityEdits.Edited next;
            try {
              next = EntityEdits.apply(current, editsFrom.edits(current, parsed));
            } catch (EntityEdits.EditException e) {
              backend.publishStats().failed(PublishStats.Failure.INVALID);
              return HttpJson.error(e.status, e.code, String.valueOf(e.getMessage()));
            }
            try {
              return published(backend.publishEdit(next, baseHash), next.config().table());
            } catch (PublishConflictException e) {
              if (ifMatch.hash() != null || attempt == 3) {
                throw e;
              }
              log.info("Entity edit met a concurrent publish ({}); trying again", e.getMessage());
            }
          }
        });
  }

  /** A publish attempt whose failures {@link #publishing} answers. */
  @FunctionalInterface
  private interface Attempt {
    FullHttpResponse run() throws IOException;
  }

  /** Runs a publish attempt and answers each of its failures with its status. */
  private FullHttpResponse publishing(Attempt attempt) {
    try {
      return attempt.run();
    } catch (ConfigFileException e) {
      return HttpJson.error(HttpResponseStatus.BAD_REQUEST, "invalid_yaml", e.getMessage());
    } catch (InvalidConfigurationException e) {
      return e.isTooLarge()
          ? HttpJson.error(HttpResponseStatus.REQUEST_ENTITY_TOO_LARGE, "too_large", e.getMessage())
          : HttpJson.error(HttpResponseStatus.BAD_REQUEST, "invalid_config", e.getMessage());
    } catch (IOException e) {
      return HttpJson.error(
          HttpResponseStatus.BAD_REQUEST, "invalid_config", "cannot be read: " + e.getMessage());
    } catch (PublishConflictException e) {
      log.warn("Publish refused, conflict: {}", e.getMessage());
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("error", "conflict");
      answer.put("message", e.getMessage());
      answer.put("current_hash", e.currentHash());
      FullHttpResponse response = HttpJson.response(HttpResponseStatus.CONFLICT, answer);
      response.headers().set(HttpHeaderNames.ETAG, "\"" + e.currentHash() + "\"");
      return response;
    } catch (PublishOutcomeUnknownException e) {
      // Not "nothing was published": the store may apply it, now or later.
      Map<String, Object> answer = new LinkedHashMap<>();
      answer.put("error", "publish_outcome_unknown");
      answer.put("message", e.getMessage());
      answer.put("attempted_hash", e.attemptedHash());
      backend.currentConfig().ifPresent(c -> answer.put("current_hash", c.hash()));
      return HttpJson.response(HttpResponseStatus.GATEWAY_TIMEOUT, answer);
    } catch (ConfigSyncException e) {
      log.error("Publishing from the admin API failed: {}", e.getMessage());
      return HttpJson.error(
          HttpResponseStatus.SERVICE_UNAVAILABLE, "store_unavailable", e.getMessage());
    } catch (RuntimeException e) {
      if (backend.isClosed()) {
        return HttpJson.error(
            HttpResponseStatus.SERVICE_UNAVAILABLE,
            "shutting_down",
            "the control plane is shutting down; nothing was published");
      }
      // A bug (in a validator, say) must still get an answer: the client would wait for ever.
      log.error("Publishing from the admin API failed unexpectedly", e);
      return HttpJson.error(
          HttpResponseStatus.INTERNAL_SERVER_ERROR,
          "internal_error",
          "publishing failed unexpectedly ("
              + e.getClass().getSimpleName()
              + "); nothing was published; the control plane's log has the details");
    }
  }

  /** The answer to a publish that went through (or changed nothing). */
  private FullHttpResponse published(PublishResult result, JsonNode config) {
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("hash", result.hash());
    answer.put("hashes", hashes(result.hashes()));
    answer.put("changed", result.changed());
    answer.put("version", result.version());
    answer.put("published_at", result.publishedAt().toString());
    answer.put("payload_bytes", result.payloadBytes());
    Outlet.Tally tally = backend.reach(result.hash(), config);
    // connected_data_planes = sent_to + every withheld count + awaiting_basic_info
    answer.put("connected_data_planes", tally.connected());
    answer.put("sent_to", tally.sent());
    Map<String, Integer> withheld = new TreeMap<>();
    tally.withheld().forEach((status, n) -> withheld.put(status.wireName(), n));
    answer.put("withheld", withheld);
    answer.put("awaiting_basic_info", tally.awaitingBasicInfo());
    FullHttpResponse response = HttpJson.response(HttpResponseStatus.OK, answer);
    response.headers().set(HttpHeaderNames.ETAG, "\"" + result.hash() + "\"");
    return response;
  }

  /**
   * An {@code If-Match} header (the {@code ETag} of {@code GET /config}): the hash it names, or
   * none (absent, or {@code *}); or the 400 answer to one that is not a quoted configuration hash.
   */
  private record IfMatch(@Nullable String hash, @Nullable FullHttpResponse invalid) {
    static IfMatch parse(@Nullable String header) {
      if (header == null || header.isBlank() || header.trim().equals("*")) {
        return new IfMatch(null, null);
      }
      String expected = header.trim();
      if (expected.startsWith("W/")) {
        expected = expected.substring(2);
      }
      if (expected.length() >= 2 && expected.startsWith("\"") && expected.endsWith("\"")) {
        expected = expected.substring(1, expected.length() - 1);
      }
      if (!ConfigHash.isValidHash(expected)) {
        return new IfMatch(
            null,
            HttpJson.error(
                HttpResponseStatus.BAD_REQUEST,
                "invalid_if_match",
                "If-Match must be the quoted configuration hash from GET /config's ETag, not "
                    + header));
      }
      return new IfMatch(expected, null);
    }
  }

  private static String media(@Nullable String contentType) {
    return contentType == null ? "" : contentType.split(";", 2)[0].trim().toLowerCase(Locale.ROOT);
  }

  private static FullHttpResponse unsupportedMedia(String media, String accepted) {
    return HttpJson.error(
        HttpResponseStatus.UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
        "Content-Type must be "
            + accepted
            + (media.isEmpty() ? " (none was sent)" : ", not " + LogSafe.text(media, 60)));
  }

  /** A path segment, percent-decoded; null when it does not decode. */
  private static @Nullable String decode(String segment) {
    try {
      // A path segment, not a query: '+' is a plus sign, not a space.
      return QueryStringDecoder.decodeComponent(
          segment.replace("+", "%2B"), StandardCharsets.UTF_8);
    } catch (IllegalArgumentException e) {
      return null;
    }
  }

  /** The first value of query parameter {@code name}, or null. */
  private static @Nullable String firstParameter(String uri, String name) {
    List<String> values = new QueryStringDecoder(uri).parameters().get(name);
    return values == null || values.isEmpty() ? null : values.get(0);
  }

  /** {@code GET /config/history[?limit=N]}: the configurations that were in force, newest first. */
  private FullHttpResponse history(@Nullable String limitParameter) {
    int limit = 20;
    if (limitParameter != null) {
      try {
        limit = Integer.parseInt(limitParameter);
      } catch (NumberFormatException e) {
        limit = -1;
      }
      if (limit < 1 || limit > ControlPlaneServer.MAX_HISTORY) {
        return HttpJson.error(
            HttpResponseStatus.BAD_REQUEST,
            "invalid_limit",
            "limit must be a whole number from 1 to "
                + ControlPlaneServer.MAX_HISTORY
                + ", not "
                + LogSafe.text(limitParameter, 40));
      }
    }
    List<ConfigVersion> versions;
    try {
      versions = backend.history(limit);
    } catch (ConfigSyncException e) {
      return HttpJson.error(
          HttpResponseStatus.SERVICE_UNAVAILABLE, "store_unavailable", e.getMessage());
    }
    List<Map<String, Object>> data = new ArrayList<>();
    for (ConfigVersion v : versions) {
      Map<String, Object> m = new LinkedHashMap<>();
      m.put("hash", v.hash());
      m.put("revision", v.revision());
      m.put("published_at", v.publishedAt().toString());
      m.put("replica", v.replica());
      data.add(m);
    }
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("data", data);
    backend.currentConfig().ifPresent(c -> answer.put("current_hash", c.hash()));
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  private FullHttpResponse dataPlanes() {
    List<Map<String, Object>> data =
        backend.dataPlanes().stream().map(AdminEndpoints::dataPlane).toList();
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("data", data);
    answer.put("next", null);
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  static Map<String, Object> dataPlane(DataPlaneInfo node) {
    Map<String, Object> m = new LinkedHashMap<>();
    m.put("id", node.id());
    m.put("hostname", node.hostname());
    m.put("ip", node.address());
    m.put("version", node.version());
    m.put("labels", node.labels());
    m.put("plugins", node.capabilities());
    m.put("connected", node.connected());
    m.put("connected_since", node.connectedSince().toString());
    m.put("last_seen", node.lastSeen().getEpochSecond());
    m.put("last_seen_at", node.lastSeen().toString());
    m.put("config_hash", node.configHash());
    m.put("sync_status", node.syncStatus().wireName());
    m.put("sync_status_reason", node.syncStatusReason());
    node.lastError()
        .ifPresent(
            e -> {
              Map<String, Object> error = new LinkedHashMap<>();
              error.put("name", e.name());
              error.put("message", e.message());
              error.put("config_hash", e.configHash());
              error.put("at", e.at().toString());
              m.put("last_error", error);
            });
    return m;
  }

  private FullHttpResponse status() {
    Map<String, Object> answer = new LinkedHashMap<>();
    Optional<String> degraded = backend.degradedReason();
    answer.put("status", degraded.isPresent() ? "degraded" : "ok");
    degraded.ifPresent(reason -> answer.put("degraded_reason", reason));
    answer.put("version", backend.version());
    answer.put("started_at", backend.startedAt().toString());
    Optional<PublishedConfig> current = backend.currentConfig();
    answer.put("config_hash", current.map(PublishedConfig::hash).orElse(null));
    answer.put("published_at", current.map(c -> c.publishedAt().toString()).orElse(null));
    List<DataPlaneInfo> nodes = backend.dataPlanes();
    Map<String, Object> planes = new LinkedHashMap<>();
    planes.put("connected", nodes.stream().filter(DataPlaneInfo::connected).count());
    planes.put("known", nodes.size());
    planes.put(
        "in_sync",
        current
            .map(c -> nodes.stream().filter(n -> n.connected() && n.configHash().equals(c.hash())))
            .map(s -> s.count())
            .orElse(0L));
    planes.put(
        "incompatible",
        nodes.stream()
            .filter(
                n ->
                    n.syncStatus() != DataPlaneSyncStatus.NORMAL
                        && n.syncStatus() != DataPlaneSyncStatus.UNKNOWN)
            .count());
    answer.put("data_planes", planes);
    answer.put("tls_mode", backend.tlsMode().name().toLowerCase(Locale.ROOT));
    answer.put("store", backend.storeDescription());
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  /** {@code GET /metrics}: the server's figures in the Prometheus text format. */
  private FullHttpResponse metrics() {
    byte[] page =
        MetricsPage.write(backend, counts.open.get(), counts.refused.sum())
            .getBytes(StandardCharsets.UTF_8);
    FullHttpResponse response =
        new io.netty.handler.codec.http.DefaultFullHttpResponse(
            io.netty.handler.codec.http.HttpVersion.HTTP_1_1,
            HttpResponseStatus.OK,
            io.netty.buffer.Unpooled.wrappedBuffer(page));
    response.headers().set(HttpHeaderNames.CONTENT_TYPE, MetricsPage.CONTENT_TYPE);
    response.headers().setInt(HttpHeaderNames.CONTENT_LENGTH, page.length);
    return response;
  }

  private FullHttpResponse usage() {
    // As backend.fleetUsage(), from the same snapshot as the per-replica breakdown below.
    Map<String, UsageReport> byReplica = backend.usageByReplica();
    UsageReport report =
        byReplica.isEmpty() ? backend.usage() : UsageReport.sum(byReplica.values());
    List<Map<String, Object>> rows =
        report.rows().stream()
            .map(
                r -> {
                  Map<String, Object> m = new LinkedHashMap<>();
                  m.put("node_id", r.nodeId());
                  m.put("service", r.counts().service());
                  m.put("route", r.counts().route());
                  m.put("consumer", r.counts().consumer());
                  for (int k = 1; k <= 5; k++) {
                    m.put(k + "xx", r.counts().byClass(k));
                  }
                  m.put("total", r.counts().total());
                  return m;
                })
            .toList();
    Map<String, String> hostnames = new LinkedHashMap<>();
    backend.dataPlanes().forEach(n -> hostnames.put(n.id(), n.hostname()));
    List<Map<String, Object>> billing =
        report.billing().stream()
            .map(
                b -> {
                  Map<String, Object> m = new LinkedHashMap<>();
                  m.put("node_id", b.nodeId());
                  m.put("hostname", hostnames.get(b.nodeId()));
                  m.put("period", b.day().toString());
                  m.put("api_calls", b.apiCalls());
                  m.put("services_configured", b.servicesConfigured());
                  return m;
                })
            .toList();
    Map<String, Object> batches = new LinkedHashMap<>();
    batches.put("accepted", report.batchesAccepted());
    batches.put("duplicates_ignored", report.duplicatesIgnored());
    batches.put("refused", report.batchesRefused());
    Map<String, Object> answer = new LinkedHashMap<>();
    answer.put("usage", rows);
    answer.put("billing", billing);
    answer.put("api_calls", report.apiCalls());
    answer.put("batches", batches);
    answer.put("rows_over_limit", report.rowsOverLimit());
    List<Map<String, Object>> replicas = new ArrayList<>();
    new TreeMap<>(byReplica)
        .forEach(
            (name, r) -> {
              Map<String, Object> m = new LinkedHashMap<>();
              m.put("replica", name);
              m.put("api_calls", r.apiCalls());
              m.put("batches_accepted", r.batchesAccepted());
              m.put("duplicates_ignored", r.duplicatesIgnored());
              replicas.add(m);
            });
    answer.put("replicas", replicas);
    return HttpJson.response(HttpResponseStatus.OK, answer);
  }

  private static Map<String, String> hashes(ConfigHashes h) {
    Map<String, String> m = new LinkedHashMap<>();
    m.put("config", h.config());
    m.put("routes", h.routes());
    m.put("services", h.services());
    m.put("plugins", h.plugins());
    m.put("upstreams", h.upstreams());
    m.put("targets", h.targets());
    return m;
  }
}
