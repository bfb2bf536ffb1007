package dev.configsync.bench;

import com.fasterxml.jackson.core.JsonFactory;
import com.fasterxml.jackson.core.JsonGenerator;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.util.SplittableRandom;
import java.util.UUID;

/**
 * Generates realistic gateway configurations, deterministic from a seed: Kong-like declarative
 * tables of services, routes, plugins with nested configuration, consumers with credentials,
 * upstreams with health checks, and targets.
 *
 * <p>The configuration grows in units of one service with its routes, plugins and consumer (about 2
 * KB of JSON each), with an upstream and its targets every tenth unit, until it reaches the
 * requested size; the result is that size to within one unit.
 */
public final class ConfigGenerator {

  private static final JsonFactory JSON = new JsonFactory();
  private static final String[] METHODS = {"GET", "POST", "PUT", "PATCH", "DELETE"};
  private static final String[] PLUGINS = {
    "rate-limiting", "key-auth", "cors", "request-transformer", "proxy-cache", "acl"
  };

  private ConfigGenerator() {}

  /**
   * Returns the UTF-8 JSON of a configuration of about {@code targetBytes} bytes (never less),
   * always the same for the same arguments.
   */
  public static byte[] generate(long seed, int targetBytes) {
    if (targetBytes <= 0) {
      throw new IllegalArgumentException("targetBytes must be positive: " + targetBytes);
    }
    SplittableRandom random = new SplittableRandom(seed);
    // Each entity list is written to its own buffer, then assembled in Kong's layout.
    Section services = new Section("services");
    Section routes = new Section("routes");
    Section plugins = new Section("plugins");
    Section consumers = new Section("consumers");
    Section upstreams = new Section("upstreams");
    Section targets = new Section("targets");
    try {
      for (int unit = 0;
          size(services, routes, plugins, consumers, upstreams, targets) < targetBytes;
          unit++) {
        String serviceId = uuid(random);
        service(services.json, random, unit, serviceId);
        int routeCount = 1 + random.nextInt(3);
        for (int r = 0; r < routeCount; r++) {
          route(routes.json, random, unit, r, serviceId);
        }
        int pluginCount = 1 + random.nextInt(2);
        for (int p = 0; p < pluginCount; p++) {
          plugin(plugins.json, random, serviceId);
        }
        consumer(consumers.json, random, unit);
        if (unit % 10 == 0) {
          upstream(upstreams.json, targets.json, random, unit);
        }
      }
      ByteArrayOutputStream out = new ByteArrayOutputStream(targetBytes + 64 * 1024);
      try (JsonGenerator g = JSON.createGenerator(out)) {
        g.writeStartObject();
        g.writeStringField("_format_version", "3.0");
        g.writeBooleanField("_transform", false);
        g.writeEndObject();
      }
      // Replace the closing brace with the sections.
      byte[] head = out.toByteArray();
      out.reset();
      out.write(head, 0, head.length - 1);
      for (Section s : new Section[] {services, routes, plugins, consumers, upstreams, targets}) {
        s.appendTo(out);
      }
      out.write('}');
      return out.toByteArray();
    } catch (IOException e) {
      throw new UncheckedIOException(e);
    }
  }

  private static long size(Section... sections) throws IOException {
    long total = 0;
    for (Section s : sections) {
      s.json.flush();
      total += s.bytes.size();
    }
    return total;
  }

  private static void service(JsonGenerator g, SplittableRandom random, int unit, String id)
      throws IOException {
    g.writeStartObject();
    g.writeStringField("id", id);
    g.writeStringField("name", "service-" + unit);
    g.writeStringField("protocol", random.nextBoolean() ? "http" : "https");
    g.writeStringField("host", "backend-" + random.nextInt(1000) + ".internal.example.com");
    g.writeNumberField("port", random.nextBoolean() ? 80 : 8000 + random.nextInt(1000));
    g.writeStringField("path", "/api/v" + (1 + random.nextInt(3)));
    g.writeNumberField("retries", 5);
    g.writeNumberField("connect_timeout", 60000);
    g.writeNumberField("write_timeout", 60000);
    g.writeNumberField("read_timeout", 60000);
    g.writeBooleanField("enabled", true);
    g.writeNumberField("created_at", 1_700_000_000 + random.nextInt(10_000_000));
    tags(g, random);
    g.writeEndObject();
  }

  private static void route(
      JsonGenerator g, SplittableRandom random, int unit, int index, String serviceId)
      throws IOException {
    g.writeStartObject();
    g.writeStringField("id", uuid(random));
    g.writeStringField("name", "route-" + unit + "-" + index);
    g.writeObjectFieldStart("service");
    g.writeStringField("id", serviceId);
    g.writeEndObject();
    g.writeArrayFieldStart("paths");
    g.writeString("/svc" + unit + "/r" + index);
    if (random.nextBoolean()) {
      g.writeString("~/svc" + unit + "/r" + index + "/items/\\d+$");
    }
    g.writeEndArray();
    g.writeArrayFieldStart("methods");
    int methods = 1 + random.nextInt(METHODS.length);
    for (int m = 0; m < methods; m++) {
      g.writeString(METHODS[m]);
    }
    g.writeEndArray();
    g.writeArrayFieldStart("hosts");
    g.writeString("api" + random.nextInt(50) + ".example.com");
    g.writeEndArray();
    g.writeArrayFieldStart("protocols");
    g.writeString("http");
    g.writeString("https");
    g.writeEndArray();
    g.writeBooleanField("strip_path", random.nextBoolean());
    g.writeBooleanField("preserve_host", false);
    g.writeNumberField("regex_priority", random.nextInt(10));
    g.writeNumberField("https_redirect_status_code", 426);
    g.writeStringField("path_handling", "v0");
    tags(g, random);
    g.writeEndObject();
  }

  private static void plugin(JsonGenerator g, SplittableRandom random, String serviceId)
      throws IOException {
    String name = PLUGINS[random.nextInt(PLUGINS.length)];
    g.writeStartObject();
    g.writeStringField("id", uuid(random));
    g.writeStringField("name", name);
    g.writeObjectFieldStart("service");
    g.writeStringField("id", serviceId);
    g.writeEndObject();
    g.writeBooleanField("enabled", true);
    g.writeObjectFieldStart("config");
    switch (name) {
      case "rate-limiting" -> {
        g.writeNumberField("minute", 60 + random.nextInt(1000));
        g.writeNumberField("hour", 10_000 + random.nextInt(100_000));
        g.writeStringField("policy", "redis");
        g.writeStringField("limit_by", "consumer");
        g.writeBooleanField("fault_tolerant", true);
        g.writeObjectFieldStart("redis");
        g.writeStringField("host", "redis.internal.example.com");
        g.writeNumberField("port", 6379);
        g.writeNumberField("timeout", 2000);
        g.writeNumberField("database", 0);
        g.writeEndObject();
      }
      case "key-auth" -> {
        g.writeArrayFieldStart("key_names");
        g.writeString("apikey");
        g.writeString("x-api-key");
        g.writeEndArray();
        g.writeBooleanField("hide_credentials", random.nextBoolean());
        g.writeBooleanField("key_in_header", true);
        g.writeBooleanField("key_in_query", false);
      }
      case "cors" -> {
        g.writeArrayFieldStart("origins");
        g.writeString("https://app" + random.nextInt(20) + ".example.com");
        g.writeEndArray();
        g.writeArrayFieldStart("methods");
        for (String m : METHODS) {
          g.writeString(m);
        }
        g.writeEndArray();
        g.writeNumberField("max_age", 3600);
        g.writeBooleanField("credentials", true);
      }
      case "request-transformer" -> {
        g.writeObjectFieldStart("add");
        g.writeArrayFieldStart("headers");
        g.writeString("x-gateway:configsync");
        g.writeString("x-request-source:edge-" + random.nextInt(8));
        g.writeEndArray();
        g.writeEndObject();
        g.writeObjectFieldStart("remove");
        g.writeArrayFieldStart("querystring");
        g.writeString("debug");
        g.writeEndArray();
        g.writeEndObject();
      }
      case "proxy-cache" -> {
        g.writeStringField("strategy", "memory");
        g.writeNumberField("cache_ttl", 300);
        g.writeArrayFieldStart("content_type");
        g.writeString("application/json");
        g.writeString("text/plain");
        g.writeEndArray();
        g.writeArrayFieldStart("response_code");
        g.writeNumber(200);
        g.writeNumber(301);
        g.writeNumber(404);
        g.writeEndArray();
      }
      default -> {
        g.writeArrayFieldStart("allow");
        g.writeString("group-" + random.nextInt(100));
        g.writeEndArray();
        g.writeBooleanField("hide_groups_header", false);
      }
    }
    g.writeEndObject();
    g.writeArrayFieldStart("protocols");
    g.writeString("http");
    g.writeString("https");
    g.writeEndArray();
    g.writeEndObject();
  }

  private static void consumer(JsonGenerator g, SplittableRandom random, int unit)
      throws IOException {
    g.writeStartObject();
    g.writeStringField("id", uuid(random));
    g.writeStringField("username", "consumer-" + unit);
    g.writeStringField("custom_id", "customer-" + random.nextInt(1_000_000));
    g.writeArrayFieldStart("keyauth_credentials");
    g.writeStartObject();
    g.writeStringField("key", uuid(random).replace("-", ""));
    g.writeEndObject();
    g.writeEndArray();
    tags(g, random);
    g.writeEndObject();
  }

  private static void upstream(
      JsonGenerator upstreams, JsonGenerator targets, SplittableRandom random, int unit)
      throws IOException {
    String id = uuid(random);
    upstreams.writeStartObject();
    upstreams.writeStringField("id", id);
    upstreams.writeStringField("name", "upstream-" + unit + ".internal");
    upstreams.writeStringField(
        "algorithm", random.nextBoolean() ? "round-robin" : "least-connections");
    upstreams.writeNumberField("slots", 10000);
    upstreams.writeObjectFieldStart("healthchecks");
    upstreams.writeNumberField("threshold", 0);
    upstreams.writeObjectFieldStart("active");
    upstreams.writeStringField("type", "http");
    upstreams.writeStringField("http_path", "/health");
    upstreams.writeNumberField("timeout", 1);
    upstreams.writeNumberField("concurrency", 10);
    upstreams.writeObjectFieldStart("healthy");
    upstreams.writeNumberField("interval", 5);
    upstreams.writeNumberField("successes", 2);
    upstreams.writeArrayFieldStart("http_statuses");
    for (int s : new int[] {200, 201, 202, 203, 204, 302}) {
      upstreams.writeNumber(s);
    }
    upstreams.writeEndArray();
    upstreams.writeEndObject();
    upstreams.writeObjectFieldStart("unhealthy");
    upstreams.writeNumberField("interval", 5);
    upstreams.writeNumberField("http_failures", 3);
    upstreams.writeNumberField("tcp_failures", 3);
    upstreams.writeNumberField("timeouts", 3);
    upstreams.writeEndObject();
    upstreams.writeEndObject();
    upstreams.writeEndObject();
    upstreams.writeEndObject();
    for (int t = 0; t < 3; t++) {
      targets.writeStartObject();
      targets.writeStringField("id", uuid(random));
      targets.writeStringField(
          "target", "10.0." + random.nextInt(256) + "." + random.nextInt(256) + ":8080");
      targets.writeNumberField("weight", 100);
      targets.writeObjectFieldStart("upstream");
      targets.writeStringField("id", id);
      targets.writeEndObject();
      targets.writeEndObject();
    }
  }

  private static void tags(JsonGenerator g, SplittableRandom random) throws IOException {
    g.writeArrayFieldStart("tags");
    g.writeString("team-" + random.nextInt(20));
    g.writeString(random.nextBoolean() ? "production" : "staging");
    g.writeEndArray();
  }

  private static String uuid(SplittableRandom random) {
    return new UUID(random.nextLong(), random.nextLong()).toString();
  }

  /** One entity list, written into its own buffer as the members of a JSON array. */
  private static final class Section {
    final String name;
    final ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    final JsonGenerator json;

    Section(String name) {
      this.name = name;
      try {
        this.json = JSON.createGenerator(bytes);
        json.writeStartArray();
      } catch (IOException e) {
        throw new UncheckedIOException(e);
      }
    }

    void appendTo(ByteArrayOutputStream out) throws IOException {
      json.writeEndArray();
      json.close();
      out.write(',');
      out.write(('"' + name + "\":").getBytes(java.nio.charset.StandardCharsets.US_ASCII));
      bytes.writeTo(out);
    }
  }
}
