/** Test harness for both command lines, shipped in cli-support's test jar. */
@NullMarked
package dev.configsync.cli.testing;

import org.jspecify.annotations.NullMarked;
