package dev.configsync.examples.gateway;

import org.jspecify.annotations.Nullable;

/**
 * Where the gateway reports each request it answered, for usage telemetry (billing counts API calls
 * per service). Only names and a status class are passed: no request data.
 *
 * <p>Called on the gateway's request threads, concurrently: implementations must be thread-safe and
 * quick, and must not throw (an exception is logged and the request is not affected).
 */
@FunctionalInterface
public interface UsageRecorder {

  /** The class of an HTTP status code (its first digit). */
  enum StatusClass {
    /** 1xx. */
    INFORMATIONAL,
    /** 2xx. */
    SUCCESS,
    /** 3xx. */
    REDIRECTION,
    /** 4xx. */
    CLIENT_ERROR,
    /** 5xx. */
    SERVER_ERROR;

    /**
     * The class of {@code status}.
     *
     * @throws IllegalArgumentException when {@code status} is not from 100 to 599
     */
    public static StatusClass of(int status) {
      if (status < 100 || status > 599) {
        throw new IllegalArgumentException("not an HTTP status code: " + status);
      }
      return values()[status / 100 - 1];
    }
  }

  /**
   * Records one request.
   *
   * @param service the name of the service the request was routed to, or null when no route matched
   * @param route the name of the route that matched, or null when none did
   * @param consumer the authenticated consumer, or null (this gateway authenticates nobody)
   * @param status the class of the status code the client was sent
   */
  void record(
      @Nullable String service,
      @Nullable String route,
      @Nullable String consumer,
      StatusClass status);

  /** A recorder that drops everything. */
  static UsageRecorder none() {
    return (service, route, consumer, status) -> {};
  }
}
