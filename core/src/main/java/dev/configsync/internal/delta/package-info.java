/**
 * Configurations as collections of keyed entities: the entity rules ({@link
 * dev.configsync.internal.delta.EntityRules}), change sets ({@link
 * dev.configsync.internal.delta.ChangeSet}) and their diff, their application with structural
 * sharing and an incremental configuration hash ({@link
 * dev.configsync.internal.delta.IndexedConfig}). Not API: may change in any release.
 */
@NullMarked
package dev.configsync.internal.delta;

import org.jspecify.annotations.NullMarked;
