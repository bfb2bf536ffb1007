package dev.configsync.internal;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigHashes;
import java.math.BigDecimal;
import java.math.MathContext;
import java.math.RoundingMode;
import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.Arrays;
import java.util.Comparator;
import java.util.Map;
import java.util.concurrent.Executor;
import java.util.concurrent.ForkJoinPool;
import java.util.concurrent.RejectedExecutionException;
import org.jspecify.annotations.Nullable;

/**
 * Computes Kong's hybrid-mode configuration hash, bit for bit, so that a node can report the hash a
 * Kong control plane expects and can tell whether a configuration it received is the one it already
 * runs.
 *
 * <p>A value is hashed as the MD5 of a canonical serialization, written depth first into one byte
 * buffer:
 *
 * <ul>
 *   <li>JSON {@code null} is {@code /null/}; a string is its UTF-8 bytes, unquoted and unescaped; a
 *       boolean is {@code true} or {@code false}; a number is C's {@code printf("%.14g")} of the
 *       number as a double (see {@link #formatNumber}).
 *   <li>An empty object or array is {@code {}}. An array of one to five elements is the elements
 *       separated by {@code ;}; an array of six or more is every element followed by {@code ;}.
 *   <li>An object is, for each key in unsigned UTF-8 byte order: the key, {@code :}, the value,
 *       {@code ;}.
 *   <li>Before any value is written, nested ones included, if the buffer holds more than 1,000,000
 *       bytes its whole content is replaced by the 16 raw bytes of its MD5.
 * </ul>
 *
 * <p>The hash is that buffer's MD5 in lowercase hexadecimal; the hash of an absent value is {@link
 * #NONE}. The configuration hash of a table ({@link #configHashes}) combines the hashes of its
 * {@code routes}, {@code services}, {@code plugins}, {@code upstreams} and {@code targets} with the
 * hash of everything else.
 *
 * <p>The buffer is never materialized: bytes stream through a small chunk into an incremental MD5,
 * and the running length decides when the 1,000,000-byte rule applies. Because MD5 is incremental,
 * the digest of the streamed bytes equals the digest of the buffer Kong would have built.
 *
 * <p>Values that JSON cannot express are handled as follows: a {@link
 * com.fasterxml.jackson.databind.node.MissingNode} inside an object is treated as an absent key (as
 * a Lua {@code nil} would be), and inside an array it is rejected, as are binary and POJO nodes.
 * Strings with unpaired surrogates are encoded with {@code ?} in their place, as {@link
 * String#getBytes} does (Kong's JSON decoder rejects such input). A {@code float} node is widened
 * to {@code double}, so it may differ from the double the original JSON text denoted.
 *
 * <p>Thread-safe: every call uses its own state. {@link #configHashes} hashes the six parts of a
 * table in parallel, on the calling thread and on helpers (the common pool by default), so the tree
 * must not change while it runs (configurations are frozen trees).
 */
public final class ConfigHash {

  /** The hash of an absent value: 32 {@code 0} characters. Kong uses it for missing entities. */
  public static final String NONE = "00000000000000000000000000000000";

  /** The buffer length above which the buffer is replaced by its MD5. */
  private static final int LIMIT = 1_000_000;

  private static final MathContext FOURTEEN_DIGITS = new MathContext(14, RoundingMode.HALF_EVEN);

  private static final byte[] HEX_DIGITS = "0123456789abcdef".getBytes(StandardCharsets.US_ASCII);

  private ConfigHash() {}

  /**
   * Returns the configuration hash of {@code configTable} together with its granular hashes, as a
   * Kong data plane reports them.
   *
   * <p>When {@code configTable} is an object (or an array: both are Lua tables to Kong), each
   * granular hash is the {@link #hash} of the member of that name ({@link #NONE} when it is
   * absent), and {@code config} is the MD5, in lowercase hexadecimal, of the concatenation of the
   * routes, services, plugins, upstreams and targets hashes and the hash of the table without those
   * five members. For any other value, {@code config} is the value's {@link #hash} and the granular
   * hashes are {@link #NONE}.
   *
   * @param configTable the decoded declarative configuration; {@code null} or a missing node stand
   *     for no configuration
   * @throws IllegalArgumentException when the table contains a node JSON cannot express (binary,
   *     POJO, or a missing node inside an array)
   */
  public static ConfigHashes configHashes(@Nullable JsonNode configTable) {
    return configHashes(configTable, ForkJoinPool.commonPool());
  }

  /**
   * As {@link #configHashes(JsonNode)}, with the helpers of the parallel computation run on {@code
   * helpers}.
   *
   * <p>The six parts (routes, services, plugins, upstreams, targets, the rest) hash independently.
   * The calling thread hashes parts itself and offers the others to {@code helpers}: each part is
   * claimed once, by whichever thread gets to it first, largest first. A busy or direct executor
   * ({@code Runnable::run}) costs nothing but the parallelism: the caller then hashes every part
   * itself. The caller waits only for parts a helper has already started.
   *
   * @param helpers where helper tasks run; the common pool by default
   */
  public static ConfigHashes configHashes(@Nullable JsonNode configTable, Executor helpers) {
    if (configTable == null || !configTable.isContainerNode()) {
      return new ConfigHashes(new Hasher().hash(configTable, false), NONE, NONE, NONE, NONE, NONE);
    }
    Parts parts = new Parts(configTable);
    for (int i = 0; i < HELPERS; i++) {
      try {
        helpers.execute(parts::work);
      } catch (RejectedExecutionException e) {
        break; // the caller hashes what no helper takes
      }
    }
    parts.work();
    String[] hashes = parts.await();
    MessageDigest md5 = newMd5();
    for (String part : hashes) {
      md5.update(part.getBytes(StandardCharsets.US_ASCII));
    }
    String config = hex(md5.digest());
    return new ConfigHashes(config, hashes[0], hashes[1], hashes[2], hashes[3], hashes[4]);
  }

  /** At most this many helper tasks per call, besides the caller: enough for six parts. */
  private static final int HELPERS =
      Math.max(0, Math.min(5, Runtime.getRuntime().availableProcessors() - 1));

  /**
   * The six parts of a configuration table and their hashes, in Kong's order (routes, services,
   * plugins, upstreams, targets, rest); claimed one at a time, largest first, by any thread.
   */
  private static final class Parts {
    private static final String[] GRANULAR = {
      "routes", "services", "plugins", "upstreams", "targets"
    };

    private final @Nullable JsonNode[] values = new JsonNode[6];

    /** Part indexes, largest first. */
    private final int[] order;

    private final java.util.concurrent.atomic.AtomicInteger next =
        new java.util.concurrent.atomic.AtomicInteger();
    private final String[] results = new String[6];
    private final @Nullable RuntimeException[] failures = new RuntimeException[6];
    private final java.util.concurrent.CountDownLatch done;

    Parts(JsonNode table) {
      Integer[] byWeight = new Integer[6];
      long[] weight = new long[6];
      for (int i = 0; i < 5; i++) {
        JsonNode v = table.get(GRANULAR[i]);
        values[i] = v;
        weight[i] = v == null ? 0 : v.size();
        byWeight[i] = i;
      }
      values[5] = table;
      for (Map.Entry<String, JsonNode> e : table.properties()) {
        if (!isGranularKey(e.getKey())) {
          weight[5] += Math.max(1, e.getValue().size());
        }
      }
      byWeight[5] = 5;
      Arrays.sort(byWeight, (a, b) -> Long.compare(weight[b], weight[a]));
      this.order = new int[6];
      for (int i = 0; i < 6; i++) {
        order[i] = byWeight[i];
      }
      this.done = new java.util.concurrent.CountDownLatch(6);
    }

    /** Hashes parts until none is left to claim. */
    void work() {
      Hasher hasher = null;
      for (int claimed = next.getAndIncrement(); claimed < 6; claimed = next.getAndIncrement()) {
        int part = order[claimed];
        if (hasher == null) {
          hasher = new Hasher();
        }
        try {
          results[part] = hasher.hash(values[part], part == 5);
        } catch (RuntimeException e) {
          failures[part] = e;
          hasher = null; // its state is undefined after a failure
        } finally {
          done.countDown();
        }
      }
    }

    /** Waits for the parts helpers are still hashing; rethrows the first failure. */
    String[] await() {
      boolean interrupted = false;
      while (true) {
        try {
          done.await();
          break;
        } catch (InterruptedException e) {
          interrupted = true; // a part in progress always finishes: wait for it, then say so
        }
      }
      if (interrupted) {
        Thread.currentThread().interrupt();
      }
      for (RuntimeException failure : failures) {
        if (failure != null) {
          throw failure;
        }
      }
      return results;
    }
  }

  /**
   * Returns the configuration hash of {@code configTable} (Kong's {@code config_hash}), which is
   * what a data plane reports and compares; same as {@code configHashes(configTable).config()}.
   *
   * @param configTable the decoded declarative configuration; {@code null} or a missing node stand
   *     for no configuration
   * @throws IllegalArgumentException when the table contains a node JSON cannot express (binary,
   *     POJO, or a missing node inside an array)
   */
  public static String configHash(@Nullable JsonNode configTable) {
    return configHashes(configTable).config();
  }

  /**
   * Returns the hash of one value, the building block of the configuration hash.
   *
   * @param value the value; {@code null} or a missing node (absent) hash to {@link #NONE}, while a
   *     JSON {@code null} hashes as {@code /null/}
   * @throws IllegalArgumentException when the value contains a node JSON cannot express (binary,
   *     POJO, or a missing node inside an array)
   */
  public static String hash(@Nullable JsonNode value) {
    return new Hasher().hash(value, false);
  }

  /**
   * Tells whether {@code s} has the shape of a hash (exactly 32 lowercase hexadecimal characters),
   * for validating hashes received from elsewhere. The same check as {@link HashText#isValid}.
   */
  public static boolean isValidHash(@Nullable String s) {
    return HashText.isValid(s);
  }

  /**
   * Formats {@code d} as C's {@code printf("%.14g", d)} does, which is how Kong's Lua runtime turns
   * numbers into text. Java's {@code String.format("%.14g")} differs (it keeps trailing zeros and
   * chooses the notation differently), hence this.
   *
   * <p>The value is rounded to 14 significant digits, half to even on its exact binary value (as
   * glibc does). The exponent notation ({@code 1.5e+20}, exponent with a sign and at least two
   * digits) is used when the decimal exponent after rounding is below -4 or at least 14, the plain
   * notation otherwise; trailing zeros of the fraction and a trailing {@code .} are dropped. NaN
   * and infinities, which JSON cannot express, come out as C prints them: {@code nan} (or {@code
   * -nan} when the sign bit is set), {@code inf}, {@code -inf}.
   */
  static String formatNumber(double d) {
    if (Double.isNaN(d)) {
      return Double.doubleToRawLongBits(d) < 0 ? "-nan" : "nan";
    }
    if (Double.isInfinite(d)) {
      return d > 0 ? "inf" : "-inf";
    }
    if (d == 0) {
      return Double.doubleToRawLongBits(d) < 0 ? "-0" : "0";
    }
    if (isSmallIntegral(d)) {
      return Long.toString((long) d);
    }
    String shortest = formatShortest(d);
    if (shortest != null) {
      return shortest;
    }
    BigDecimal rounded = new BigDecimal(d).round(FOURTEEN_DIGITS).stripTrailingZeros();
    String digits = rounded.unscaledValue().abs().toString();
    // The value is 0.<digits> * 10^(exponent + 1), that is d.igits * 10^exponent.
    return render(d < 0, digits, digits.length() - rounded.scale() - 1);
  }

  /**
   * Formats {@code d} (finite, not integral) from Java's shortest representation when that has at
   * most 14 significant digits, and returns {@code null} otherwise.
   *
   * <p>Such a representation is then the correct 14-digit rounding of {@code d}: it lies within
   * half a binary ulp of {@code d} (at most 2^-53 relative for a normal double), far closer than
   * any other 14-digit decimal can be (those are at least 10^-14 relative apart), so it is the
   * nearest and no tie is possible. Subnormal values, whose ulp is relatively larger, are left to
   * the exact path.
   */
  private static @Nullable String formatShortest(double d) {
    double a = Math.abs(d);
    if (a < Double.MIN_NORMAL) {
      return null;
    }
    // Forms: "123.456", "0.00123", "1.0E-5", "1.2345E14".
    String s = Double.toString(a);
    int e = s.indexOf('E');
    int end = e < 0 ? s.length() : e;
    int dot = s.indexOf('.');
    StringBuilder digits = new StringBuilder(20);
    int leadingZeros = 0;
    for (int i = 0; i < end; i++) {
      char c = s.charAt(i);
      if (c == '.') {
        continue;
      }
      if (c == '0' && digits.length() == 0) {
        leadingZeros++;
      } else {
        digits.append(c);
      }
    }
    int length = digits.length();
    while (length > 0 && digits.charAt(length - 1) == '0') {
      length--;
    }
    // Double.toString must round-trip; checking it keeps this path safe regardless.
    if (dot < 0 || length == 0 || length > 14 || Double.parseDouble(s) != a) {
      return null;
    }
    int exponent =
        dot - 1 - leadingZeros + (e < 0 ? 0 : Integer.parseInt(s, e + 1, s.length(), 10));
    return render(d < 0, digits.substring(0, length), exponent);
  }

  /**
   * Writes {@code d.igits * 10^exponent} (digits without leading or trailing zeros) in {@code
   * %.14g} layout.
   */
  private static String render(boolean negative, String digits, int exponent) {
    StringBuilder out = new StringBuilder(24);
    if (negative) {
      out.append('-');
    }
    if (exponent < -4 || exponent >= 14) {
      out.append(digits.charAt(0));
      if (digits.length() > 1) {
        out.append('.').append(digits, 1, digits.length());
      }
      out.append('e').append(exponent < 0 ? '-' : '+');
      int magnitude = Math.abs(exponent);
      if (magnitude < 10) {
        out.append('0');
      }
      out.append(magnitude);
    } else if (exponent < 0) {
      out.append("0.");
      for (int i = -1; i > exponent; i--) {
        out.append('0');
      }
      out.append(digits);
    } else {
      int integerDigits = exponent + 1;
      if (digits.length() <= integerDigits) {
        out.append(digits);
        for (int i = digits.length(); i < integerDigits; i++) {
          out.append('0');
        }
      } else {
        out.append(digits, 0, integerDigits)
            .append('.')
            .append(digits, integerDigits, digits.length());
      }
    }
    return out.toString();
  }

  /**
   * Whether {@code d} is a whole number of at most 14 digits, which {@code %.14g} prints exactly as
   * the integer it is.
   */
  private static boolean isSmallIntegral(double d) {
    return Math.abs(d) < 1e14 && d == Math.rint(d);
  }

  private static boolean isGranularKey(String key) {
    return switch (key) {
      case "routes", "services", "plugins", "upstreams", "targets" -> true;
      default -> false;
    };
  }

  private static MessageDigest newMd5() {
    try {
      return MessageDigest.getInstance("MD5");
    } catch (NoSuchAlgorithmException e) {
      // Every Java platform must provide MD5.
      throw new IllegalStateException("MD5 is not available", e);
    }
  }

  private static String hex(byte[] bytes) {
    byte[] out = new byte[bytes.length * 2];
    for (int i = 0; i < bytes.length; i++) {
      out[2 * i] = HEX_DIGITS[(bytes[i] >> 4) & 0xf];
      out[2 * i + 1] = HEX_DIGITS[bytes[i] & 0xf];
    }
    return new String(out, StandardCharsets.US_ASCII);
  }

  /**
   * Kong's serialization of {@code value} as bytes, without the 1,000,000-byte rule (which depends
   * on what precedes a value in the buffer): the fragment a {@link Stream} can feed for it. Used to
   * cache the serialization of entities, so that a changed configuration is re-hashed without
   * rendering its unchanged parts again.
   *
   * @throws IllegalArgumentException when the value contains a node JSON cannot express
   */
  public static byte[] render(JsonNode value) {
    Renderer renderer = RENDERERS.get();
    renderer.out.reset();
    renderer.hasher.begin(); // clears what a failed render may have left
    renderer.hasher.write(value, false);
    renderer.hasher.flush();
    byte[] bytes = renderer.out.toByteArray();
    if (renderer.out.size() > 1 << 20) {
      RENDERERS.remove(); // do not keep a large buffer per thread
    }
    return bytes;
  }

  /** A reusable rendering buffer: rendering is done entity by entity, many times over. */
  private static final class Renderer {
    final java.io.ByteArrayOutputStream out = new java.io.ByteArrayOutputStream(1024);
    final Hasher hasher = new Hasher(out);
  }

  private static final ThreadLocal<Renderer> RENDERERS = ThreadLocal.withInitial(Renderer::new);

  /**
   * One of Kong's hash buffers, written piece by piece: separators and keys as raw bytes, values as
   * nodes with, where known, their {@linkplain #render rendered} bytes. The result is the {@link
   * #hash} of the value those pieces spell, bit for bit, including the 1,000,000-byte rule: a
   * rendered fragment is fed as it is only when the rule cannot apply inside it, and otherwise the
   * node is written value by value. Not thread-safe; one instance per hash.
   */
  public static final class Stream {
    private final Hasher hasher;

    /** A new, empty buffer. */
    public Stream() {
      hasher = new Hasher();
      hasher.begin();
    }

    private Stream(Hasher hasher) {
      this.hasher = hasher;
    }

    /**
     * A stream that goes on from {@code mark}: what it is then given is hashed as if it followed
     * what had been written when the mark was taken. The mark is not changed and can be resumed
     * again.
     */
    public static Stream resume(Mark mark) {
      return new Stream(new Hasher(mark.copyOfMd5(), mark.digested));
    }

    /**
     * The state of this stream now (what has been written so far), to {@linkplain #resume resume}
     * from later, or null when the platform's MD5 cannot be copied (then nothing can be resumed,
     * and a caller hashes from the start).
     */
    public @Nullable Mark mark() {
      hasher.flush();
      try {
        return new Mark((MessageDigest) hasher.md5.clone(), hasher.digested);
      } catch (CloneNotSupportedException e) {
        return null;
      }
    }

    /** Applies Kong's check that precedes every value (use it before a value written in parts). */
    public void checkpoint() {
      hasher.checkpoint();
    }

    /** Appends one byte that starts no value ({@code ;}, {@code :}). */
    public void raw(byte b) {
      hasher.put(b);
    }

    /** Appends text that starts no value (an object key), as UTF-8. */
    public void raw(String text) {
      hasher.putUtf8(text);
    }

    /**
     * Appends a whole value, its check included.
     *
     * @param node the value
     * @param rendered its bytes as {@link #render} gives them, or null to write the node
     */
    public void value(JsonNode node, byte @Nullable [] rendered) {
      if (rendered != null && hasher.length() + rendered.length <= LIMIT) {
        // Every value inside starts before the fragment's end: no check in it can fire.
        hasher.put(rendered);
      } else {
        hasher.write(node, false);
      }
    }

    /** The hash of what was written: lowercase hexadecimal MD5. */
    public String finish() {
      return hasher.finish();
    }
  }

  /**
   * A {@link Stream}'s state at one point: the MD5 of what it had digested, and the length of the
   * buffer Kong would hold. Immutable (its digest is only ever copied), so one mark serves any
   * number of resumptions, from any thread. It lets a long sequence be hashed again from the point
   * where it first changed, instead of from its start: MD5 is a chain, so what precedes that point
   * is unchanged and what follows must be fed again.
   */
  public static final class Mark {
    private final MessageDigest md5;
    private final long digested;

    private Mark(MessageDigest md5, long digested) {
      this.md5 = md5;
      this.digested = digested;
    }

    private MessageDigest copyOfMd5() {
      try {
        return (MessageDigest) md5.clone();
      } catch (CloneNotSupportedException e) {
        // It was cloned once to make this mark: the same implementation clones again.
        throw new IllegalStateException("MD5 could be copied once and not twice", e);
      }
    }
  }

  /**
   * The configuration hash of the six parts' hashes, in Kong's order (routes, services, plugins,
   * upstreams, targets, the rest): the MD5 of their concatenation.
   */
  public static ConfigHashes combine(
      String routes,
      String services,
      String plugins,
      String upstreams,
      String targets,
      String rest) {
    MessageDigest md5 = newMd5();
    for (String part : new String[] {routes, services, plugins, upstreams, targets, rest}) {
      md5.update(part.getBytes(StandardCharsets.US_ASCII));
    }
    return new ConfigHashes(hex(md5.digest()), routes, services, plugins, upstreams, targets);
  }

  /** An object member; the key's UTF-8 bytes are filled in only when sorting needs them. */
  private static final class Member {
    final String key;
    final JsonNode value;
    byte[] keyBytes = NO_BYTES;

    Member(String key, JsonNode value) {
      this.key = key;
      this.value = value;
    }
  }

  private static final byte[] NO_BYTES = new byte[0];

  /**
   * UTF-16 order, which equals UTF-8 byte order for keys without surrogates (code point order in
   * both).
   */
  private static final Comparator<Member> BY_KEY = (a, b) -> a.key.compareTo(b.key);

  private static final Comparator<Member> BY_KEY_BYTES =
      (a, b) -> Arrays.compareUnsigned(a.keyBytes, b.keyBytes);

  /**
   * Serializes values into an incremental MD5, keeping the running length of the buffer Kong would
   * have built. One instance serves several hashes in turn, never two at once.
   */
  private static final class Hasher {
    private static final int CHUNK = 8192;
    private static final byte[] NULL_TEXT = ascii("/null/");
    private static final byte[] TRUE_TEXT = ascii("true");
    private static final byte[] FALSE_TEXT = ascii("false");
    private static final byte[] EMPTY_TEXT = ascii("{}");

    private final MessageDigest md5;

    /** When rendering ({@link ConfigHash#render}): where bytes go instead of {@link #md5}. */
    private final java.io.@Nullable ByteArrayOutputStream rendered;

    private final byte[] chunk = new byte[CHUNK];
    private final byte[] digits = new byte[20];

    /** Bytes in {@link #chunk} not yet given to {@link #md5}. */
    private int pending;

    /**
     * Bytes given to {@link #md5} since its last reset; the buffer Kong would hold is this many
     * bytes plus {@link #pending}.
     */
    private long digested;

    Hasher() {
      this(null);
    }

    Hasher(java.io.@Nullable ByteArrayOutputStream rendered) {
      this.md5 = newMd5();
      this.rendered = rendered;
    }

    /** A hasher that goes on from a saved state: {@code md5} after {@code digested} bytes. */
    Hasher(MessageDigest md5, long digested) {
      this.md5 = md5;
      this.rendered = null;
      this.digested = digested;
    }

    /** Starts a new buffer. */
    void begin() {
      md5.reset();
      pending = 0;
      digested = 0;
    }

    /** The buffer's length: what the 1,000,000-byte rule looks at. */
    long length() {
      return digested + pending;
    }

    /** The hash of what was written since {@link #begin}. */
    String finish() {
      flush();
      return hex(md5.digest());
    }

    String hash(@Nullable JsonNode value, boolean withoutGranularKeys) {
      if (value == null || value.isMissingNode()) {
        return NONE;
      }
      md5.reset();
      pending = 0;
      digested = 0;
      write(value, withoutGranularKeys);
      flush();
      return hex(md5.digest());
    }

    /** Kong's check before every value: a buffer over the limit becomes its MD5. */
    void checkpoint() {
      if (rendered == null && digested + pending > LIMIT) {
        flush();
        byte[] digest = md5.digest();
        md5.update(digest);
        digested = digest.length;
      }
    }

    void write(JsonNode value, boolean withoutGranularKeys) {
      checkpoint();
      switch (value.getNodeType()) {
        case NULL -> put(NULL_TEXT);
        case STRING -> putUtf8(value.textValue());
        case NUMBER -> putNumber(value.doubleValue());
        case BOOLEAN -> put(value.booleanValue() ? TRUE_TEXT : FALSE_TEXT);
        case ARRAY -> writeArray(value);
        case OBJECT -> writeObject(value, withoutGranularKeys);
        default ->
            throw new IllegalArgumentException(
                "cannot hash a " + value.getNodeType() + " node: not a JSON value");
      }
    }

    private void writeArray(JsonNode array) {
      int size = array.size();
      if (size == 0) {
        put(EMPTY_TEXT);
      } else if (size <= 5) {
        for (int i = 0; i < size; i++) {
          if (i > 0) {
            put((byte) ';');
          }
          write(array.get(i), false);
        }
      } else {
        for (int i = 0; i < size; i++) {
          write(array.get(i), false);
          put((byte) ';');
        }
      }
    }

    private void writeObject(JsonNode object, boolean withoutGranularKeys) {
      Member[] members = new Member[object.size()];
      int count = 0;
      boolean surrogates = false;
      for (Map.Entry<String, JsonNode> e : object.properties()) {
        JsonNode value = e.getValue();
        String key = e.getKey();
        if (value.isMissingNode() || (withoutGranularKeys && isGranularKey(key))) {
          continue;
        }
        members[count++] = new Member(key, value);
        surrogates = surrogates || hasSurrogate(key);
      }
      if (count == 0) {
        put(EMPTY_TEXT);
        return;
      }
      if (surrogates) {
        // Supplementary characters (and unpaired surrogates, encoded as '?') break the
        // equivalence of UTF-16 and UTF-8 order: compare the bytes themselves.
        for (int i = 0; i < count; i++) {
          members[i].keyBytes = members[i].key.getBytes(StandardCharsets.UTF_8);
        }
        Arrays.sort(members, 0, count, BY_KEY_BYTES);
      } else if (count > 1) {
        Arrays.sort(members, 0, count, BY_KEY);
      }
      for (int i = 0; i < count; i++) {
        Member m = members[i];
        if (surrogates) {
          put(m.keyBytes);
        } else {
          putUtf8(m.key);
        }
        put((byte) ':');
        write(m.value, false);
        put((byte) ';');
      }
    }

    private static boolean hasSurrogate(String s) {
      for (int i = 0; i < s.length(); i++) {
        if (Character.isSurrogate(s.charAt(i))) {
          return true;
        }
      }
      return false;
    }

    private void putNumber(double d) {
      if (d != 0 && isSmallIntegral(d)) {
        long v = (long) d;
        if (v < 0) {
          put((byte) '-');
          v = -v;
        }
        int start = digits.length;
        do {
          digits[--start] = (byte) ('0' + (v % 10));
          v /= 10;
        } while (v != 0);
        put(digits, start, digits.length - start);
      } else {
        String s = formatNumber(d);
        for (int i = 0; i < s.length(); i++) {
          put((byte) s.charAt(i));
        }
      }
    }

    /** Writes {@code s} as UTF-8, with {@code ?} for unpaired surrogates. */
    void putUtf8(String s) {
      int n = s.length();
      int i = 0;
      while (i < n) {
        if (pending > CHUNK - 4) {
          flush();
        }
        char c = s.charAt(i);
        if (c < 0x80) {
          // A run of ASCII characters, as many as the chunk has room for.
          int runEnd = Math.min(n, i + (CHUNK - pending));
          do {
            chunk[pending++] = (byte) c;
            i++;
          } while (i < runEnd && (c = s.charAt(i)) < 0x80);
          continue;
        }
        // One non-ASCII character; at least 4 bytes of room are left.
        if (c < 0x800) {
          chunk[pending++] = (byte) (0xc0 | (c >> 6));
          chunk[pending++] = (byte) (0x80 | (c & 0x3f));
        } else if (!Character.isSurrogate(c)) {
          chunk[pending++] = (byte) (0xe0 | (c >> 12));
          chunk[pending++] = (byte) (0x80 | ((c >> 6) & 0x3f));
          chunk[pending++] = (byte) (0x80 | (c & 0x3f));
        } else if (Character.isHighSurrogate(c)
            && i + 1 < n
            && Character.isLowSurrogate(s.charAt(i + 1))) {
          int cp = Character.toCodePoint(c, s.charAt(++i));
          chunk[pending++] = (byte) (0xf0 | (cp >> 18));
          chunk[pending++] = (byte) (0x80 | ((cp >> 12) & 0x3f));
          chunk[pending++] = (byte) (0x80 | ((cp >> 6) & 0x3f));
          chunk[pending++] = (byte) (0x80 | (cp & 0x3f));
        } else {
          chunk[pending++] = (byte) '?';
        }
        i++;
      }
    }

    void put(byte b) {
      if (pending == CHUNK) {
        flush();
      }
      chunk[pending++] = b;
    }

    void put(byte[] bytes) {
      put(bytes, 0, bytes.length);
    }

    private void put(byte[] bytes, int offset, int count) {
      if (count > CHUNK - pending) {
        flush();
        if (count > CHUNK) {
          if (rendered != null) {
            rendered.write(bytes, offset, count);
          } else {
            md5.update(bytes, offset, count);
          }
          digested += count;
          return;
        }
      }
      System.arraycopy(bytes, offset, chunk, pending, count);
      pending += count;
    }

    void flush() {
      if (pending > 0) {
        if (rendered != null) {
          rendered.write(chunk, 0, pending);
        } else {
          md5.update(chunk, 0, pending);
        }
        digested += pending;
        pending = 0;
      }
    }

    private static byte[] ascii(String s) {
      return s.getBytes(StandardCharsets.US_ASCII);
    }
  }
}
