package dev.configsync.internal.delta;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigChanges;
import java.util.Map;
import java.util.Set;
import org.jspecify.annotations.Nullable;

/**
 * The changes of a configuration against the one before it, computed on first use ({@link
 * ConfigDiff#changes}) and then kept. Until then it holds the previous configuration's tree (one
 * tree, not a chain: it never holds an earlier {@code LazyChanges}); computing drops it.
 * Thread-safe: the first caller computes, concurrent callers wait for that result.
 */
public final class LazyChanges {
  private @Nullable JsonNode before;
  private @Nullable JsonNode after;
  private final boolean initial;
  private volatile @Nullable ConfigChanges computed;

  private LazyChanges(
      @Nullable JsonNode before, @Nullable JsonNode after, @Nullable ConfigChanges computed) {
    this.before = before;
    this.after = after;
    this.initial = before == null;
    this.computed = computed;
  }

  /** The changes from nothing to {@code config}: everything is added. */
  public static LazyChanges initial(JsonNode config) {
    return new LazyChanges(null, config, null);
  }

  /** The changes from {@code before} (null: nothing) to {@code after}, computed when asked. */
  public static LazyChanges between(@Nullable JsonNode before, JsonNode after) {
    return new LazyChanges(before, after, null);
  }

  /** Changes already known (a change set's, applied). */
  public static LazyChanges known(ConfigChanges changes) {
    return new LazyChanges(null, null, changes);
  }

  /** The changes if they are known (given, or computed already), else null. Never computes. */
  public @Nullable ConfigChanges ifKnown() {
    return computed;
  }

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
        JsonNode then = before;
        if (now == null || !now.isObject()) {
          c = new ConfigChanges(initial, Map.of(), Set.of()); // not a table: nothing to list
        } else {
          c = ConfigDiff.changes(then != null && then.isObject() ? then : null, now);
        }
        computed = c;
        before = null;
        after = null;
      }
      return c;
    }
  }
}
