package dev.configsync.internal;

import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.FilterInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.concurrent.Executor;
import java.util.zip.GZIPInputStream;
import java.util.zip.GZIPOutputStream;

/** gzip with a cap on the inflated size, so that a small bomb cannot fill the heap. Not API. */
public final class Gzip {
  private Gzip() {}

  /** Thrown when a payload inflates past the cap. */
  public static final class InflatedTooLargeException extends IOException {
    private static final long serialVersionUID = 1L;

    InflatedTooLargeException(long cap) {
      super("payload inflates to more than " + cap + " bytes");
    }
  }

  /** Compresses {@code data}. */
  public static byte[] compress(byte[] data) {
    ByteArrayOutputStream out = new ByteArrayOutputStream(Math.max(64, data.length / 4));
    try (GZIPOutputStream gz = new GZIPOutputStream(out, 64 * 1024)) {
      gz.write(data);
    } catch (IOException e) {
      throw new UncheckedIOException(e); // cannot happen in memory
    }
    return out.toByteArray();
  }

  /**
   * A stream of the inflated content of {@code gzip} that fails with {@link
   * InflatedTooLargeException} as soon as more than {@code maxInflated} bytes come out. The gzip
   * trailer (CRC and length) is checked when the stream is read to its end.
   */
  public static InputStream inflating(byte[] gzip, long maxInflated) throws IOException {
    return new Capped(new GZIPInputStream(new ByteArrayInputStream(gzip), 64 * 1024), maxInflated);
  }

  /**
   * As {@link #inflating(byte[], long)}, inflating on {@code executor}, up to half a megabyte ahead
   * of the reader, so that inflating and parsing run at the same time. A bad gzip header is
   * reported here, at once; every later error (corrupt data, a bad trailer, more than {@code
   * maxInflated} bytes) by the read that reaches it, as {@link #inflating} would. Closing the
   * stream stops the inflating task.
   *
   * @throws java.util.concurrent.RejectedExecutionException when {@code executor} refuses the task
   */
  public static InputStream inflatingAhead(byte[] gzip, long maxInflated, Executor executor)
      throws IOException {
    return InflateAhead.start(inflating(gzip, maxInflated), executor);
  }

  /** Inflates {@code gzip} whole, within {@code maxInflated} bytes. */
  public static byte[] decompress(byte[] gzip, long maxInflated) throws IOException {
    try (InputStream in = inflating(gzip, maxInflated)) {
      return in.readAllBytes();
    }
  }

  /** Reads {@code in} to its end, discarding what is left. */
  public static void drain(InputStream in) throws IOException {
    byte[] skip = new byte[8192];
    while (in.read(skip) >= 0) {
      // discard
    }
  }

  private static final class Capped extends FilterInputStream {
    private final long cap;
    private long count;

    Capped(InputStream in, long cap) {
      super(in);
      this.cap = cap;
    }

    @Override
    public int read() throws IOException {
      int b = super.read();
      if (b >= 0) {
        add(1);
      }
      return b;
    }

    @Override
    public int read(byte[] b, int off, int len) throws IOException {
      int n = super.read(b, off, len);
      if (n > 0) {
        add(n);
      }
      return n;
    }

    @Override
    public long skip(long n) throws IOException {
      long skipped = super.skip(n);
      add(skipped);
      return skipped;
    }

    private void add(long n) throws InflatedTooLargeException {
      count += n;
      if (count > cap) {
        throw new InflatedTooLargeException(cap);
      }
    }
  }
}
