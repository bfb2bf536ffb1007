package dev.configsync.internal;

import java.util.Objects;
import java.util.random.RandomGenerator;

/**
 * A random generator that several threads may share: every call goes to the wrapped generator under
 * one lock. The JDK's fast generators ({@code L64X128MixRandom}, {@code SplittableRandom}) are not
 * thread-safe, and the client draws from one generator on its sync loop (reconnect jitter, the
 * choice of replica) and on its telemetry thread (the choice of replica for usage).
 *
 * <p>Each method calls the same method of the wrapped generator, so a caller-supplied generator
 * yields the same values as it would unwrapped. The lock costs nothing that matters: draws happen a
 * few times per connection attempt.
 */
public final class SerializedRandom implements RandomGenerator {
  private final RandomGenerator delegate;

  private SerializedRandom(RandomGenerator delegate) {
    this.delegate = delegate;
  }

  /** Wraps {@code random}, unless it is already wrapped. */
  public static RandomGenerator of(RandomGenerator random) {
    Objects.requireNonNull(random, "random");
    return random instanceof SerializedRandom ? random : new SerializedRandom(random);
  }

  @Override
  public synchronized long nextLong() {
    return delegate.nextLong();
  }

  @Override
  public synchronized long nextLong(long bound) {
    return delegate.nextLong(bound);
  }

  @Override
  public synchronized long nextLong(long origin, long bound) {
    return delegate.nextLong(origin, bound);
  }

  @Override
  public synchronized int nextInt() {
    return delegate.nextInt();
  }

  @Override
  public synchronized int nextInt(int bound) {
    return delegate.nextInt(bound);
  }

  @Override
  public synchronized int nextInt(int origin, int bound) {
    return delegate.nextInt(origin, bound);
  }

  @Override
  public synchronized double nextDouble() {
    return delegate.nextDouble();
  }

  @Override
  public synchronized double nextDouble(double bound) {
    return delegate.nextDouble(bound);
  }

  @Override
  public synchronized double nextDouble(double origin, double bound) {
    return delegate.nextDouble(origin, bound);
  }

  @Override
  public synchronized float nextFloat() {
    return delegate.nextFloat();
  }

  @Override
  public synchronized boolean nextBoolean() {
    return delegate.nextBoolean();
  }

  @Override
  public synchronized void nextBytes(byte[] bytes) {
    delegate.nextBytes(bytes);
  }

  @Override
  public synchronized double nextGaussian() {
    return delegate.nextGaussian();
  }
}
