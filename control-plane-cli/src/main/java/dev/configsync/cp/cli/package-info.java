/**
 * The {@code configsync-cp} command line: a standalone control plane. Not API; start it with {@code
 * java -jar configsync-cp.jar}, or embed {@link dev.configsync.cp.ControlPlaneServer} instead.
 */
@NullMarked
package dev.configsync.cp.cli;

import org.jspecify.annotations.NullMarked;
