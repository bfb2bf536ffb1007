/**
 * What configsync's two command lines, {@code configsync-agent} and {@code configsync-cp}, share:
 * the flag parsers ({@link dev.configsync.cli.Durations}, {@link dev.configsync.cli.ByteSize},
 * {@link dev.configsync.cli.HostPort}), the way a command is stopped ({@link
 * dev.configsync.cli.StopSignal}, SIGTERM and SIGINT), the lock that gives a directory to one
 * process ({@link dev.configsync.cli.DirectoryLock}), the launcher that starts a command from
 * {@code main} or in-process ({@link dev.configsync.cli.CommandLauncher}), the runner that maps
 * picocli's outcomes to exit statuses ({@link dev.configsync.cli.CommandRunner}), the checks that
 * name the TLS flag whose file is wrong ({@link dev.configsync.cli.PemFlags}), and the version both
 * print ({@link dev.configsync.cli.CommandVersion}).
 *
 * <p>Not API: only the two command lines use it, and it changes with them. The classes are public
 * because the two commands live in packages of their own.
 */
@NullMarked
package dev.configsync.cli;

import org.jspecify.annotations.NullMarked;
