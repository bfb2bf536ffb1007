package dev.configsync.testkit;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.ConfigSyncClient;
import dev.configsync.SyncEvent;
import dev.configsync.SyncState;
import dev.configsync.spi.Scheduler;
import dev.configsync.spi.Transport;
import java.io.EOFException;
import java.net.URI;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.PriorityQueue;
import java.util.SplittableRandom;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * A fleet of 500 data planes whose control plane restarts: do they come back spread over the
 * reconnect window (5 to 10 s, the protocol's default), or all at once?
 *
 * <p>500 real {@link ConfigSyncClient}s (the real sync loop, state machine and backoff) run on one
 * hand-driven {@link Scheduler} and fake transports, so that every attempt time is exact and the
 * real 5–10 s window costs no waiting. The same storm over the real transport was measured on the
 * project's 2-core machine: the 500 mutual-TLS handshakes saturate the CPU, timers fire up to 2.6 s
 * late, and what the bucket counts then show is CPU contention, not jitter (see
 * docs/reliability.md).
 *
 * <p>The thresholds are set so that a correct uniform draw fails them with a probability of about
 * one in a million (so that the test with the default, unseeded random sources cannot be flaky),
 * while a fleet in lockstep, or a skewed draw, fails them by far.
 */
class ReconnectStormTest {
  private static final int FLEET = 500;
  private static final Duration MIN = Duration.ofSeconds(5);
  private static final Duration MAX = Duration.ofSeconds(10);

  /** Busiest one-second bucket: at most 1.5 x the uniform rate (P ~ 2e-7 when uniform). */
  private static final int MAX_PER_SECOND = FLEET / 5 * 3 / 2;

  /** Kolmogorov-Smirnov distance to the uniform distribution (P ~ 1e-6 when uniform, n = 500). */
  private static final double MAX_KS_DISTANCE = 0.12;

  /** Chi-square over ten half-second bins, 9 degrees of freedom (P ~ 1e-6 when uniform). */
  private static final double MAX_CHI_SQUARE = 45.0;

  private final VirtualScheduler scheduler = new VirtualScheduler();
  private final List<ConfigSyncClient> fleet = new ArrayList<>();

  @AfterEach
  void closeFleet() {
    fleet.forEach(ConfigSyncClient::close);
  }

  @Test
  void fleetReconnectsSpreadOverTheJitterWindowWithSeededRandomSources() {
    List<Node> nodes = startFleet(new SplittableRandom(20_240_601));

    long[] delays = stormDelaysMillis(nodes);

    assertSpreadOverTheWindow(delays);
  }

  @Test
  void defaultRandomSourcesOfSeparateClientsAreIndependent() {
    // No random(...) on the builder: each client draws from its own default generator. Were they
    // seeded alike, the whole fleet would come back in the same millisecond.
    List<Node> nodes = startFleet(null);

    long[] delays = stormDelaysMillis(nodes);

    assertSpreadOverTheWindow(delays);
    // 500 independent draws among 5,001 values repeat about 25 times; lockstep repeats 499 times.
    assertThat(Arrays.stream(delays).distinct().count()).isGreaterThan(400);
  }

  /** A client and its transport. */
  private record Node(ConfigSyncClient client, FleetTransport transport, List<SyncEvent> events) {}

  /** Starts and connects the fleet; each client draws from a split of {@code seeds}, if given. */
  private List<Node> startFleet(@Nullable SplittableRandom seeds) {
    List<Node> nodes = new ArrayList<>();
    for (int i = 0; i < FLEET; i++) {
      FleetTransport transport = new FleetTransport(scheduler);
      List<SyncEvent> events = new CopyOnWriteArrayList<>();
      ConfigSyncClient.Builder builder =
          ConfigSyncClient.builder()
              .controlPlane(URI.create("wss://cp.example.com:8005"))
              .transport(transport)
              .nodeHostname("node-" + i)
              .reconnectDelay(MIN, MAX) // the defaults, written out
              .scheduler(scheduler)
              .listenerExecutor(Runnable::run)
              .onEvent(events::add);
      if (seeds != null) {
        builder.random(seeds.split());
      }
      ConfigSyncClient client = builder.build();
      fleet.add(client);
      client.start();
      nodes.add(new Node(client, transport, events));
    }
    for (Node node : nodes) {
      node.transport.last().open();
      assertThat(node.client.status().state()).isEqualTo(SyncState.CONNECTED);
    }
    return nodes;
  }

  /**
   * The control plane goes away for every node at the same instant; time then runs to the end of
   * the window. Returns each node's delay from the drop to its next attempt, in milliseconds.
   */
  private long[] stormDelaysMillis(List<Node> nodes) {
    scheduler.advance(Duration.ofSeconds(3)); // some connected time, heartbeats answered
    for (Node node : nodes) {
      node.transport.last().pong();
    }
    long dropNanos = scheduler.nanoTime();
    for (Node node : nodes) {
      node.transport.last().fail(new EOFException("control plane restarted"));
    }
    scheduler.advance(MAX);

    long[] delays = new long[nodes.size()];
    for (int i = 0; i < nodes.size(); i++) {
      Node node = nodes.get(i);
      List<Long> attempts =
          node.transport.attemptNanos().stream().filter(t -> t > dropNanos).toList();
      assertThat(attempts).as("attempts of node %d after the drop", i).hasSize(1);
      long delayNanos = attempts.get(0) - dropNanos;
      // The node came back exactly when it said it would.
      List<SyncEvent.Disconnected> lost =
          node.events.stream()
              .filter(SyncEvent.Disconnected.class::isInstance)
              .map(SyncEvent.Disconnected.class::cast)
              .toList();
      assertThat(lost).hasSize(1);
      assertThat(Duration.ofNanos(delayNanos)).isEqualTo(lost.get(0).retryIn());
      delays[i] = delayNanos / 1_000_000;
    }
    return delays;
  }

  private static void assertSpreadOverTheWindow(long[] delaysMillis) {
    long min = MIN.toMillis();
    long max = MAX.toMillis();
    assertThat(Arrays.stream(delaysMillis).min().orElseThrow()).isGreaterThanOrEqualTo(min);
    assertThat(Arrays.stream(delaysMillis).max().orElseThrow()).isLessThanOrEqualTo(max);

    int[] perSecond = new int[5];
    int[] perHalfSecond = new int[10];
    for (long d : delaysMillis) {
      long offset = Math.min(d - min, max - min - 1); // the one value at max goes in the last bin
      perSecond[(int) (offset / 1_000)]++;
      perHalfSecond[(int) (offset / 500)]++;
    }
    double expected = delaysMillis.length / 10.0;
    double chiSquare = 0;
    for (int count : perHalfSecond) {
      chiSquare += (count - expected) * (count - expected) / expected;
    }
    long[] sorted = delaysMillis.clone();
    Arrays.sort(sorted);
    double ks = 0;
    for (int i = 0; i < sorted.length; i++) {
      double uniform = (sorted[i] - min) / (double) (max - min);
      ks =
          Math.max(
              ks,
              Math.max((i + 1.0) / sorted.length - uniform, uniform - i / (double) sorted.length));
    }
    System.out.printf(
        "reconnect storm: per second %s, chi-square %.1f, KS distance %.4f%n",
        Arrays.toString(perSecond), chiSquare, ks);

    assertThat(Arrays.stream(perSecond).max().orElseThrow()).isLessThanOrEqualTo(MAX_PER_SECOND);
    assertThat(chiSquare).isLessThanOrEqualTo(MAX_CHI_SQUARE);
    assertThat(ks).isLessThanOrEqualTo(MAX_KS_DISTANCE);
  }

  // ---- test doubles -------------------------------------------------------------------------

  /**
   * A {@link Scheduler} whose time moves only in {@link #advance}; due tasks run on the calling
   * thread in due order, and {@link #nanoTime()} reads the due time while each runs.
   */
  private static final class VirtualScheduler implements Scheduler {
    private final PriorityQueue<Task> queue =
        new PriorityQueue<>(
            (a, b) -> a.due != b.due ? Long.compare(a.due, b.due) : Long.compare(a.seq, b.seq));
    private long now = 1_000_000_000L;
    private long seq;

    private static final class Task {
      final Runnable task;
      final long due;
      final long seq;

      Task(Runnable task, long due, long seq) {
        this.task = task;
        this.due = due;
        this.seq = seq;
      }
    }

    @Override
    public synchronized long nanoTime() {
      return now;
    }

    @Override
    public synchronized Cancellable schedule(Runnable task, Duration delay) {
      Task t = new Task(task, now + Math.max(0, delay.toNanos()), seq++);
      queue.add(t);
      return () -> {
        synchronized (this) {
          queue.remove(t);
        }
      };
    }

    void advance(Duration amount) {
      long target;
      synchronized (this) {
        target = now + amount.toNanos();
      }
      while (true) {
        Task next;
        synchronized (this) {
          next = queue.peek();
          if (next == null || next.due > target) {
            now = target;
            return;
          }
          queue.poll();
          now = next.due;
        }
        next.task.run();
      }
    }
  }

  /** One node's transport: records when each attempt was made; the test plays the network. */
  private static final class FleetTransport implements Transport {
    private final Scheduler clock;
    private final List<Long> attemptNanos = new CopyOnWriteArrayList<>();
    private final List<FleetConnection> connections = new CopyOnWriteArrayList<>();

    FleetTransport(Scheduler clock) {
      this.clock = clock;
    }

    @Override
    public Connection connect(ConnectRequest request, Listener listener) {
      attemptNanos.add(clock.nanoTime());
      FleetConnection c = new FleetConnection(listener);
      connections.add(c);
      return c;
    }

    List<Long> attemptNanos() {
      return attemptNanos;
    }

    FleetConnection last() {
      return connections.get(connections.size() - 1);
    }

    @Override
    public void close() {}
  }

  private static final class FleetConnection implements Transport.Connection {
    private final Transport.Listener listener;
    private volatile boolean open;

    FleetConnection(Transport.Listener listener) {
      this.listener = listener;
    }

    void open() {
      open = true;
      listener.onOpen();
    }

    void pong() {
      listener.onPong(new byte[0]);
    }

    void fail(Throwable error) {
      open = false;
      listener.onFailure(error);
    }

    @Override
    public boolean sendBinary(byte[] payload) {
      return open;
    }

    @Override
    public boolean sendPing(byte[] payload) {
      return open;
    }

    @Override
    public void close(int code, String reason) {
      open = false;
    }

    @Override
    public void cancel() {
      open = false;
    }
  }
}
