/**
 * Benchmarks of configsync: the end-to-end {@link dev.configsync.bench.BenchmarkRunner} and JMH
 * benchmarks of the hot pieces. Every figure is a ratio against a floor measured in the same run on
 * the same data; see {@code docs/performance.md}.
 */
@NullMarked
package dev.configsync.bench;

import org.jspecify.annotations.NullMarked;
