/**
 * JMH benchmarks of the data plane's hot pieces, each next to its floor: {@code benchmarks/run
 * --jmh <regex>} (for example {@code --jmh Hash}).
 */
@NullMarked
package dev.configsync.bench.jmh;

import org.jspecify.annotations.NullMarked;
