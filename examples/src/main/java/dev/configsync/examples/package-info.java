/** Runnable examples: the resilience demo. */
@NullMarked
package dev.configsync.examples;

import org.jspecify.annotations.NullMarked;
