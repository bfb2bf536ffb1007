package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigChanges;
import java.lang.ref.SoftReference;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The changes of a configuration against the one before it, computed on first use ({@link
 * ConfigDiff#changes}) and then kept. Until then it holds the previous configuration's tree softly
 * (one tree, not a chain: it never holds an earlier {@code LazyChanges}): an embedder that never
 * asks for changes does not keep two configurations in its heap for good, because the JVM reclaims
 * a softly held tree before it would run out of memory. Asked after that, the changes are those of
 * a first configuration ({@link ConfigChanges#initial()}: everything added, read it whole); so are
 * those of a change that touches more than {@link #budget} entities (an eighth of them, at least a
 * thousand), which is cheaper read whole than applied entity by entity. Computing drops the
 * reference. Thread-safe: the first caller computes, concurrent callers wait for that result.
 */
public final class LazyChanges {
  private @Nullable SoftReference<JsonNode> before;
  private @Nullable JsonNode after;
  private final boolean initial;
  private volatile @Nullable ConfigChanges computed;
  private final @Nullable String base;

  private LazyChanges(
      @Nullable String base,
      @Nullable JsonNode before,
      @Nullable JsonNode after,
      @Nullable ConfigChanges computed) {
    this.base = base;
    this.before = before == null ? null : new SoftReference<>(before);
    this.after = after;
    this.initial = before == null;
    this.computed = computed;
  }

  /** The changes from nothing to {@code config}: everything is added. */
  public static LazyChanges initial(JsonNode config) {
    return new LazyChanges(null, null, config, null);
  }

  /** The changes from {@code before} (null: nothing) to {@code after}, computed when asked. */
  public static LazyChanges between(@Nullable JsonNode before, JsonNode after) {
    return new LazyChanges(null, before, after, null);
  }

  /**
   * The changes from {@code before}, the configuration whose hash is {@code baseHash}, to {@code
   * after}, computed when asked.
   */
  public static LazyChanges between(String baseHash, JsonNode before, JsonNode after) {
    return new LazyChanges(baseHash, before, after, null);
  }

  /** Changes already known (a change set's, applied to the configuration {@code baseHash}). */
  public static LazyChanges known(String baseHash, ConfigChanges changes) {
    return new LazyChanges(baseHash, null, null, changes);
  }

  /** The hash of the configuration these changes are against; null when not known (or none). */
  public @Nullable String base() {
    return base;
  }

  /** The changes if they are known (given, or computed already), else null. Never computes. */
  public @Nullable ConfigChanges ifKnown() {
    return computed;
  }

  /** Lets the previous tree go, as the JVM does under memory pressure; for tests. */
  public void forgetPreviousForTests() {
    SoftReference<JsonNode> b = before;
    if (b != null) {
      b.clear();
    }
  }

  /**
   * The most entities a change may touch and still be listed as changes ({@value #MIN_BUDGET}, or
   * an eighth of {@code config}'s entities when that is more); past it, the configuration is
   * reported as {@linkplain ConfigChanges#initial() initial}.
   */
  static int budget(JsonNode config) {
    long entities = 0;
    for (JsonNode member : config) {
      entities += member.isArray() ? member.size() : 1;
    }
    return (int) Math.max(MIN_BUDGET, Math.min(Integer.MAX_VALUE, entities / 8));
  }

  /** See {@link #budget}. */
  static final int MIN_BUDGET = 1_000;

  /** The changes; computed on the first call, on the calling thread. */
  public ConfigChanges get() {
    ConfigChanges c = computed;
    if (c != null) {
      return c;
    }
    synchronized (this) {
      c = computed;
      if (c == null) {
        JsonNode now = after;
        JsonNode then = before == null ? null : before.get(); // null: none, or reclaimed
        if (now == null || !now.isObject()) {
          c = new ConfigChanges(initial, Map.of(), Set.of()); // not a table: nothing to list
        } else if (then == null || !then.isObject()) {
          c = ConfigDiff.changes(null, now);
        } else {
          ConfigChanges within = ConfigDiff.changesWithin(then, now, budget(now));
          // Most of it changed: reading it whole is cheaper than applying every change.
          c = within != null ? within : ConfigDiff.changes(null, now);
        }
        computed = c;
        before = null;
        after = null;
      }
      return c;
    }
  }
}
