package dev.configsync.cp;

import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.LongAdder;

/**
 * Admin connections open now and refused since start: counted by {@link AdminConnections}, shown by
 * {@code GET /metrics}. Thread-safe.
 */
final class AdminConnectionCounts {
  final AtomicInteger open = new AtomicInteger();
  final LongAdder refused = new LongAdder();
}
