package dev.configsync;

import java.nio.file.Path;
import org.jspecify.annotations.Nullable;

/**
 * A configuration file given by hand (the fallback declarative file, or a manual load) could not be
 * used. The message names the file and, for a syntax error, the line and column.
 */
public final class ConfigFileException extends ConfigSyncException {
  private static final long serialVersionUID = 1L;

  private final transient Path file;
  private final int line;
  private final int column;

  /**
   * Creates the exception; {@code line} and {@code column} are 1-based, or 0 when unknown. The
   * message is prefixed with the file and position.
   */
  public ConfigFileException(
      Path file, int line, int column, String problem, @Nullable Throwable cause) {
    super(location(file, line, column) + ": " + problem, cause);
    this.file = file;
    this.line = line;
    this.column = column;
  }

  private static String location(Path file, int line, int column) {
    return line > 0 ? file + ":" + line + ":" + column : file.toString();
  }

  /** The file. */
  public Path file() {
    return file;
  }

  /** The 1-based line of the problem, or 0 when it is not about one place. */
  public int line() {
    return line;
  }

  /** The 1-based column of the problem, or 0 when it is not about one place. */
  public int column() {
    return column;
  }
}
