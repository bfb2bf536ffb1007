package dev.configsync.internal;

import java.net.URI;
import java.util.List;
import java.util.random.RandomGenerator;
import org.jspecify.annotations.Nullable;

/**
 * The control plane addresses a client dials (normalized, at least one), and how it picks one for
 * each connection attempt: uniformly at random, so that a fleet spreads over the replicas of a
 * highly available control plane; when there are several, never the address of the attempt just
 * before, so that a node whose control plane died tries another one straight away.
 *
 * <p>Not thread-safe: each instance is used from one serial context (the configuration stream's or
 * the usage stream's); the random generator they share serializes its own calls. Not API.
 *
 * @param uris the addresses, normalized, at least one
 * @param random the source of the choice
 */
public record ControlPlanes(List<URI> uris, RandomGenerator random) {

  /** Checks that there is at least one address. */
  public ControlPlanes {
    uris = List.copyOf(uris);
    if (uris.isEmpty()) {
      throw new IllegalArgumentException("at least one control plane address is needed");
    }
  }

  /** The address for the next attempt; {@code previous} is the one tried last, if any. */
  public URI pick(@Nullable URI previous) {
    int n = uris.size();
    if (n == 1) {
      return uris.get(0);
    }
    int skip = previous == null ? -1 : uris.indexOf(previous);
    if (skip < 0) {
      return uris.get(random.nextInt(n));
    }
    int i = random.nextInt(n - 1);
    return uris.get(i >= skip ? i + 1 : i);
  }

  /** For logs: the addresses, comma-separated. */
  @Override
  public String toString() {
    return uris.size() == 1
        ? uris.get(0).toString()
        : String.join(", ", uris.stream().map(URI::toString).toList());
  }
}
