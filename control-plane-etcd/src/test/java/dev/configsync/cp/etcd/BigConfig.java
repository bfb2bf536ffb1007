package dev.configsync.cp.etcd;

import java.io.ByteArrayOutputStream;
import java.nio.charset.StandardCharsets;
import java.util.SplittableRandom;

/**
 * Configurations of a given size for the tests: services, each with two routes, with random ids and
 * hosts, so that they compress about as well as real ones (5 to 10 times), not like a repeated
 * string. Deterministic from the seed.
 */
final class BigConfig {
  private BigConfig() {}

  /** The UTF-8 JSON of a configuration of at least {@code targetBytes}. */
  static byte[] json(long seed, int targetBytes) {
    return json(seed, targetBytes, -1);
  }

  /**
   * As {@link #json(long, int)}, with service number {@code changed} (if not -1) given another
   * port: the same configuration but for one entity.
   */
  static byte[] json(long seed, int targetBytes, int changed) {
    SplittableRandom random = new SplittableRandom(seed);
    StringBuilder services = new StringBuilder(targetBytes / 3 + 1024);
    StringBuilder routes = new StringBuilder(targetBytes / 3 * 2 + 1024);
    for (int i = 0; services.length() + routes.length() < targetBytes; i++) {
      String id = uuid(random);
      int port = 8000 + random.nextInt(1000); // drawn for every service: the rest stays the same
      if (i > 0) {
        services.append(',');
        routes.append(',');
      }
      services
          .append("{\"id\":\"")
          .append(id)
          .append("\",\"name\":\"svc-")
          .append(i)
          .append("\",\"host\":\"")
          .append(Long.toHexString(random.nextLong()))
          .append(".internal.example\",\"port\":")
          .append(i == changed ? 9999 : port)
          .append(",\"protocol\":\"http\",\"retries\":")
          .append(random.nextInt(10))
          .append(",\"tags\":[\"team-")
          .append(random.nextInt(50))
          .append("\"]}");
      for (int r = 0; r < 2; r++) {
        if (r > 0) {
          routes.append(',');
        }
        routes
            .append("{\"id\":\"")
            .append(uuid(random))
            .append("\",\"name\":\"route-")
            .append(i)
            .append('-')
            .append(r)
            .append("\",\"paths\":[\"/")
            .append(Long.toHexString(random.nextLong()))
            .append("\"],\"methods\":[\"GET\",\"POST\"],\"strip_path\":")
            .append(random.nextBoolean())
            .append(",\"service\":{\"id\":\"")
            .append(id)
            .append("\"}}");
      }
    }
    ByteArrayOutputStream out = new ByteArrayOutputStream(targetBytes + 1024);
    out.writeBytes("{\"_format_version\":\"3.0\",\"services\":[".getBytes(StandardCharsets.UTF_8));
    out.writeBytes(services.toString().getBytes(StandardCharsets.UTF_8));
    out.writeBytes("],\"routes\":[".getBytes(StandardCharsets.UTF_8));
    out.writeBytes(routes.toString().getBytes(StandardCharsets.UTF_8));
    out.writeBytes("]}".getBytes(StandardCharsets.UTF_8));
    return out.toByteArray();
  }

  private static String uuid(SplittableRandom random) {
    return new java.util.UUID(random.nextLong(), random.nextLong()).toString();
  }
}
