/** The configsync sidecar agent command line. */
@NullMarked
package dev.configsync.agent;

import org.jspecify.annotations.NullMarked;
