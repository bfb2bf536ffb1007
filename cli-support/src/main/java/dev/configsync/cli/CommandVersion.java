package dev.configsync.cli;

import java.io.IOException;
import java.io.InputStream;
import java.io.UncheckedIOException;
import java.util.Objects;
import java.util.Properties;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Model.CommandSpec;

/**
 * What {@code -V} and {@code --version} print, for both commands: one line, the command's name and
 * the version of the build ({@code configsync-agent 0.1.0}). The version is the Maven project
 * version, written into this module's {@code version.properties} when it is built, so it is the
 * same in the runnable jar, the module jar and a test class path. Use it as a picocli {@code
 * versionProvider}.
 */
public final class CommandVersion implements CommandLine.IVersionProvider {
  private static final String RESOURCE = "version.properties";

  @CommandLine.Spec @Nullable CommandSpec spec;

  /** For picocli, which injects the command's spec. */
  public CommandVersion() {}

  /**
   * The version of this build.
   *
   * @return the Maven project version, such as {@code 0.1.0} or {@code 0.2.0-SNAPSHOT}
   */
  public static String buildVersion() {
    Properties properties = new Properties();
    try (InputStream in = CommandVersion.class.getResourceAsStream(RESOURCE)) {
      if (in == null) {
        throw new IllegalStateException(RESOURCE + " is missing from the class path");
      }
      properties.load(in);
    } catch (IOException e) {
      throw new UncheckedIOException("cannot read " + RESOURCE, e);
    }
    return Objects.requireNonNull(properties.getProperty("version"), "version");
  }

  /**
   * The line a command prints.
   *
   * @param commandName the command's name
   * @return {@code commandName buildVersion}
   */
  public static String line(String commandName) {
    return commandName + " " + buildVersion();
  }

  @Override
  public String[] getVersion() {
    CommandSpec s = Objects.requireNonNull(spec, "spec");
    return new String[] {line(s.root().name())};
  }
}
