/**
 * configsync: keeps an embedding gateway configured from a control plane, and serving when the
 * control plane, the network or the disk misbehaves. Start at {@link
 * dev.configsync.ConfigSyncClient}.
 */
@NullMarked
package dev.configsync;

import org.jspecify.annotations.NullMarked;
