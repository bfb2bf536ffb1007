package dev.configsync.testkit;

import dev.configsync.testkit.FaultProxy.Direction;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.net.Socket;
import java.net.SocketTimeoutException;
import java.util.ArrayDeque;
import java.util.Arrays;

/**
 * Moves bytes one way through a {@link ProxyConnection}. It reads whenever it can, stamping each
 * chunk with its arrival, and writes each chunk once it is due (arrival + latency, and no sooner
 * than the bandwidth allows). While chunks wait, reads time out at the next due time, so one thread
 * does both.
 */
final class Pump {
  /** At most this many bytes wait inside the proxy per direction; then it stops reading. */
  private static final int MAX_QUEUED_BYTES = 1 << 20;

  /** A bandwidth limit is applied in slices of this many milliseconds' worth of bytes. */
  private static final int SLICE_MILLIS = 20;

  private final ProxyConnection link;
  private final Direction direction;
  private final Socket from;
  private final Socket to;
  private final FaultSwitch faults;
  private final ProxyCounters counters;
  private final ArrayDeque<Chunk> queue = new ArrayDeque<>();
  private final byte[] buffer = new byte[16 * 1024];
  private long queuedBytes;
  private long bandwidthFreeAtNanos;
  private boolean eof;

  /** Bytes read at a known time, waiting to be passed on. */
  private static final class Chunk {
    final byte[] bytes;
    final long readNanos;
    int offset;

    Chunk(byte[] bytes, long readNanos) {
      this.bytes = bytes;
      this.readNanos = readNanos;
    }

    int remaining() {
      return bytes.length - offset;
    }
  }

  Pump(
      ProxyConnection link,
      Direction direction,
      Socket from,
      Socket to,
      FaultSwitch faults,
      ProxyCounters counters) {
    this.link = link;
    this.direction = direction;
    this.from = from;
    this.to = to;
    this.faults = faults;
    this.counters = counters;
  }

  void run() throws IOException {
    InputStream in = from.getInputStream();
    OutputStream out = to.getOutputStream();
    while (!link.ended() && !faults.closed()) {
      ProxyFaults f = faults.current();
      if (f.blackhole()) {
        drop();
      }
      long waitNanos = Long.MAX_VALUE; // until the head of the queue is due
      Chunk head = queue.peek();
      if (head != null) {
        long now = System.nanoTime();
        long due = Math.max(head.readNanos + f.latencyNanos(direction), bandwidthFreeAtNanos);
        if (due - now <= 0) {
          if (!write(out, head, f.bytesPerSecond(direction), now)) {
            return; // cut
          }
          continue;
        }
        waitNanos = due - now;
      }
      if (eof) {
        if (head != null) {
          faults.awaitChange(link, waitNanos);
        } else if (f.blackhole()) {
          faults.awaitBlackholeEnd(link); // a close does not pass a black hole either
        } else {
          to.shutdownOutput(); // pass the half-close on
          return;
        }
      } else if (queuedBytes >= MAX_QUEUED_BYTES) {
        faults.awaitChange(link, waitNanos);
      } else {
        read(in, waitNanos);
      }
    }
  }

  private void read(InputStream in, long waitNanos) throws IOException {
    int timeoutMillis =
        waitNanos == Long.MAX_VALUE
            ? 0 // nothing waiting: block until bytes arrive
            : (int) Math.max(1, Math.min(Integer.MAX_VALUE, (waitNanos + 999_999) / 1_000_000));
    from.setSoTimeout(timeoutMillis);
    int n;
    try {
      n = in.read(buffer);
    } catch (SocketTimeoutException e) {
      return; // the head of the queue is due
    }
    if (n < 0) {
      eof = true;
      return;
    }
    if (faults.current().blackhole()) {
      counters.countSwallowed(n);
      return;
    }
    queue.add(new Chunk(Arrays.copyOf(buffer, n), System.nanoTime()));
    queuedBytes += n;
  }

  /** Writes (part of) the head chunk; false when an armed cut ended the connection. */
  private boolean write(OutputStream out, Chunk head, long bytesPerSecond, long now)
      throws IOException {
    int n = head.remaining();
    if (bytesPerSecond > 0) {
      n = (int) Math.min(n, Math.max(1, bytesPerSecond * SLICE_MILLIS / 1000));
    }
    int allowed = direction == Direction.DOWNSTREAM ? faults.cutAllowance(n) : n;
    if (allowed > 0) {
      // Counted (and stamped) before the write: no peer can see bytes the counters do not show.
      counters.countForwarded(direction, allowed);
      out.write(head.bytes, head.offset, allowed);
    }
    if (allowed < n) {
      counters.countCut();
      link.reset();
      return false;
    }
    head.offset += n;
    queuedBytes -= n;
    if (head.remaining() == 0) {
      queue.poll();
    }
    if (bytesPerSecond > 0) {
      bandwidthFreeAtNanos =
          Math.max(bandwidthFreeAtNanos, now) + n * 1_000_000_000L / bytesPerSecond;
    }
    return true;
  }

  private void drop() {
    for (Chunk c : queue) {
      counters.countSwallowed(c.remaining());
    }
    queue.clear();
    queuedBytes = 0;
  }
}
