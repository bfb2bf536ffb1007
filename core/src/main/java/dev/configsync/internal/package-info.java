/** Implementation details shared between configsync modules. Not API: may change in any release. */
@NullMarked
package dev.configsync.internal;

import org.jspecify.annotations.NullMarked;
