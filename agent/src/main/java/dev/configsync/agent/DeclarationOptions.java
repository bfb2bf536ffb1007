package dev.configsync.agent;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cli.BadArgumentException;
import java.util.ArrayList;
import java.util.HashSet;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Locale;
import java.util.Map;
import java.util.Set;
import java.util.regex.Pattern;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import picocli.CommandLine;
import picocli.CommandLine.Option;

/**
 * What {@code configsync-agent run} declares to the control plane: {@code --label}, {@code
 * --capability} (the plugins the node runs) and {@code --node-version}. A picocli mixin; read on
 * the command's thread, and by the status file's thread once the agent runs (then no longer
 * changed).
 */
final class DeclarationOptions {
  private static final Logger log = LoggerFactory.getLogger(RunCommand.class);

  @Option(
      names = "--label",
      paramLabel = "KEY=VALUE",
      converter = Label.Converter.class,
      description = "A label reported to the control plane; repeatable.")
  List<Label> labels = new ArrayList<>();

  @Option(
      names = "--capability",
      paramLabel = "NAME=VERSION",
      converter = Capability.Converter.class,
      description = {
        "A plugin (capability) this node runs, with its version, declared to the control plane;"
            + " repeatable. The control plane withholds every configuration that uses a plugin the"
            + " node does not declare. Declare only what the proxy really enforces."
      })
  List<Capability> capabilities = new ArrayList<>();

  @Option(
      names = "--node-version",
      paramLabel = "VERSION",
      description =
          "The version reported to the control plane as node_version (MAJOR.MINOR[.PATCH]),"
              + " checked by it for compatibility (default: the agent's, ${DEFAULT-VALUE}).",
      defaultValue = ConfigSyncClient.VERSION)
  String nodeVersion = ConfigSyncClient.VERSION;

  /** {@code --node-version} and the {@code --capability} list: each plugin named once. */
  void check() throws BadArgumentException {
    if (!Capability.VERSION.matcher(nodeVersion).matches()) {
      throw new BadArgumentException(
          "--node-version must be MAJOR.MINOR[.PATCH] with an optional -suffix or +suffix of"
              + " letters, digits, '.' and '-' (at most "
              + Capability.MAX_VERSION_LENGTH
              + " characters), got: "
              + printable(nodeVersion));
    }
    Set<String> names = new HashSet<>();
    for (Capability capability : capabilities) {
      if (!names.add(capability.name())) {
        throw new BadArgumentException(
            "--capability names plugin '"
                + capability.name()
                + "' twice; declare each plugin once, with the version the node runs");
      }
    }
  }

  /** {@code text} with control characters escaped, for an error message. */
  static String printable(String text) {
    StringBuilder b = new StringBuilder();
    text.codePoints()
        .forEach(
            c -> {
              if (c < 0x20 || c == 0x7f || (c >= 0x80 && c < 0xa0)) {
                b.append(String.format(Locale.ROOT, "\\u%04x", c));
              } else {
                b.appendCodePoint(c);
              }
            });
    return b.toString();
  }

  /**
   * Says what the node declares to the control plane. The protocol gives a node no signal when the
   * control plane withholds a configuration from it (the control plane only sends nothing), so this
   * line, and {@code plugins} in the status, are what the node itself can show.
   */
  void logDeclarations() {
    if (capabilities.isEmpty()) {
      log.info(
          "declaring node_version {} and no plugins: a control plane that checks compatibility"
              + " withholds every configuration that uses a plugin (see --capability)",
          nodeVersion);
    } else {
      log.info(
          "declaring node_version {} and plugins {}: a control plane that checks compatibility"
              + " withholds configurations that use any other plugin",
          nodeVersion,
          declaredPlugins());
    }
  }

  /** The declared plugins, name to version, in the order given. */
  Map<String, String> declaredPlugins() {
    Map<String, String> plugins = new LinkedHashMap<>();
    for (Capability capability : capabilities) {
      plugins.put(capability.name(), capability.version());
    }
    return plugins;
  }

  /**
   * A {@code --capability NAME=VERSION}: a plugin the node runs, declared to the control plane in
   * {@code basic_info.plugins}.
   */
  record Capability(String name, String version) {
    static final int MAX_NAME_LENGTH = 128;
    static final int MAX_VERSION_LENGTH = 64;

    /** Kong's plugin names: letters, digits, '-', '_' and '.', starting with a letter or digit. */
    static final Pattern NAME = Pattern.compile("[A-Za-z0-9][A-Za-z0-9_.-]{0,127}");

    /** MAJOR.MINOR[.PATCH], an optional {@code -pre} or {@code +build} suffix; printable only. */
    static final Pattern VERSION =
        Pattern.compile("(?=.{1,64}$)\\d{1,9}\\.\\d{1,9}(\\.\\d{1,9})?([-+.][0-9A-Za-z.+-]*)?");

    /** Parses {@code NAME=VERSION}; picocli names the option in its message (exit 2). */
    static final class Converter implements CommandLine.ITypeConverter<Capability> {
      @Override
      public Capability convert(String text) {
        int eq = text.indexOf('=');
        if (eq < 0) {
          throw new CommandLine.TypeConversionException(
              "'"
                  + printable(text)
                  + "' is not NAME=VERSION (a plugin name and the version the node runs, e.g."
                  + " rate-limiting=3.4.0)");
        }
        String name = text.substring(0, eq);
        String version = text.substring(eq + 1);
        if (!NAME.matcher(name).matches()) {
          throw new CommandLine.TypeConversionException(
              "'"
                  + printable(text)
                  + "': the plugin name must be 1 to "
                  + MAX_NAME_LENGTH
                  + " letters, digits, '-', '_' or '.', starting with a letter or digit");
        }
        if (!VERSION.matcher(version).matches()) {
          throw new CommandLine.TypeConversionException(
              "'"
                  + printable(text)
                  + "': the version must be MAJOR.MINOR[.PATCH] with an optional -suffix or"
                  + " +suffix (at most "
                  + MAX_VERSION_LENGTH
                  + " characters), e.g. 3.4.0");
        }
        return new Capability(name, version);
      }
    }
  }

  /** A {@code --label KEY=VALUE}. */
  record Label(String key, String value) {
    /** Parses {@code KEY=VALUE}; picocli names the option in its message. */
    static final class Converter implements CommandLine.ITypeConverter<Label> {
      @Override
      public Label convert(String text) {
        int eq = text.indexOf('=');
        if (eq <= 0 || text.substring(0, eq).isBlank()) {
          throw new CommandLine.TypeConversionException(
              "'" + text + "' is not KEY=VALUE with a non-empty KEY");
        }
        return new Label(text.substring(0, eq), text.substring(eq + 1));
      }
    }
  }
}
