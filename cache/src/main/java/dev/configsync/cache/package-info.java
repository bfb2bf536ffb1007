/** Durable on-disk storage for a data plane: the configuration cache and the node identity. */
@NullMarked
package dev.configsync.cache;

import org.jspecify.annotations.NullMarked;
