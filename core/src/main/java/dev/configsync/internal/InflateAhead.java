package dev.configsync.internal;

import java.io.IOException;
import java.io.InputStream;
import java.io.InterruptedIOException;
import java.util.Arrays;
import java.util.Objects;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.Executor;
import java.util.concurrent.TimeUnit;

/**
 * A stream whose bytes are read from another stream on another thread, ahead of the reader, a
 * bounded number of chunks at a time: inflating a payload and parsing it then run at the same time
 * instead of one after the other. Not API.
 *
 * <p>What the source throws (an {@link IOException}, such as {@link Gzip.InflatedTooLargeException}
 * or a corrupt-gzip error) is thrown, the same object, by the read that reaches it; a runtime
 * exception is wrapped in an {@link IOException}. At most {@link #AHEAD} chunks of {@link #CHUNK}
 * bytes are held. {@link #close} stops the reading thread within one chunk and closes the source.
 * One reader thread at a time.
 */
final class InflateAhead extends InputStream {
  static final int CHUNK = 64 * 1024;
  static final int AHEAD = 8;

  private static final Object END = new Object();
  private static final byte[] NONE = new byte[0];

  private final BlockingQueue<Object> chunks = new ArrayBlockingQueue<>(AHEAD);
  private volatile boolean closed;

  /** Set when the reading task has ended, whether or not it could hand over its last item. */
  private volatile boolean producerGone;

  // Reader's side.
  private byte[] current = NONE;
  private int position;
  private boolean finished;

  private InflateAhead() {}

  /**
   * Starts reading {@code source} on {@code executor}; the returned stream yields its bytes.
   *
   * @throws java.util.concurrent.RejectedExecutionException when the executor refuses the task (the
   *     source is closed first)
   */
  static InputStream start(InputStream source, Executor executor) throws IOException {
    Objects.requireNonNull(source, "source");
    InflateAhead ahead = new InflateAhead();
    try {
      executor.execute(() -> ahead.produce(source));
    } catch (RuntimeException e) {
      source.close();
      throw e;
    }
    return ahead;
  }

  private void produce(InputStream source) {
    try (source) {
      while (!closed) {
        byte[] buffer = new byte[CHUNK];
        int n = source.readNBytes(buffer, 0, CHUNK);
        if (n > 0) {
          hand(n == CHUNK ? buffer : Arrays.copyOf(buffer, n));
        }
        if (n < CHUNK) {
          hand(END);
          return;
        }
      }
    } catch (IOException e) {
      hand(e);
    } catch (RuntimeException e) {
      hand(new IOException("reading ahead failed: " + e, e));
    } finally {
      producerGone = true;
    }
  }

  /** Queues {@code item} unless the reader has closed the stream. */
  private void hand(Object item) {
    try {
      while (!closed) {
        if (chunks.offer(item, 50, TimeUnit.MILLISECONDS)) {
          return;
        }
      }
    } catch (InterruptedException e) {
      Thread.currentThread().interrupt(); // the executor is shutting down: stop
    }
  }

  @Override
  public int read() throws IOException {
    byte[] one = new byte[1];
    int n = read(one, 0, 1);
    return n < 0 ? -1 : one[0] & 0xff;
  }

  @Override
  public int read(byte[] b, int off, int len) throws IOException {
    Objects.checkFromIndexSize(off, len, b.length);
    if (len == 0) {
      return 0;
    }
    if (!next()) {
      return -1;
    }
    int n = Math.min(len, current.length - position);
    System.arraycopy(current, position, b, off, n);
    position += n;
    return n;
  }

  @Override
  public int available() {
    return current.length - position;
  }

  /** Makes {@link #current} hold unread bytes; false at the end of the stream. */
  private boolean next() throws IOException {
    if (closed) {
      throw new IOException("stream closed");
    }
    while (position == current.length) {
      if (finished) {
        return false;
      }
      Object item;
      try {
        item = chunks.poll(50, TimeUnit.MILLISECONDS);
      } catch (InterruptedException e) {
        Thread.currentThread().interrupt();
        throw new InterruptedIOException("interrupted while waiting for inflated bytes");
      }
      if (item == null) {
        if (producerGone && chunks.isEmpty()) {
          // It was stopped (its executor shut down) before it could say how it ended.
          finished = true;
          throw new IOException("inflating stopped before the end of the payload");
        }
        continue;
      }
      if (item == END) {
        finished = true;
        return false;
      }
      if (item instanceof IOException e) {
        finished = true;
        throw e;
      }
      current = (byte[]) item;
      position = 0;
    }
    return true;
  }

  @Override
  public void close() {
    closed = true;
    chunks.clear(); // frees a producer waiting for room; it then sees closed and stops
  }
}
