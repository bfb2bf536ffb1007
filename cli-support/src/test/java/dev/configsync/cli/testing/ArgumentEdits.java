package dev.configsync.cli.testing;

import java.util.List;
import java.util.function.UnaryOperator;
import org.junit.jupiter.params.provider.Arguments;

/**
 * Edits of a valid argument list, for tests that make one flag wrong at a time, and the rows of
 * such tests.
 */
public final class ArgumentEdits {
  private ArgumentEdits() {}

  /**
   * Replaces the value of {@code flag}.
   *
   * @param flag a flag present in the list
   * @param value its new value
   * @return the edit
   */
  public static UnaryOperator<List<String>> replace(String flag, String value) {
    return args -> {
      args.set(args.indexOf(flag) + 1, value);
      return args;
    };
  }

  /**
   * Appends arguments.
   *
   * @param more the arguments to add
   * @return the edit
   */
  public static UnaryOperator<List<String>> add(String... more) {
    return args -> {
      args.addAll(List.of(more));
      return args;
    };
  }

  /**
   * Removes {@code flag} and its value.
   *
   * @param flag a flag present in the list
   * @return the edit
   */
  public static UnaryOperator<List<String>> remove(String flag) {
    return args -> {
      int i = args.indexOf(flag);
      args.remove(i + 1);
      args.remove(i);
      return args;
    };
  }

  /**
   * One row of a parameterized test of a bad command line: its name, the edit that makes a valid
   * argument list wrong, and what the message on stderr must contain.
   *
   * @param name the row's name
   * @param change the edit
   * @param expectedInMessage what the message must contain
   * @return the row
   */
  public static Arguments bad(
      String name, UnaryOperator<List<String>> change, String... expectedInMessage) {
    return Arguments.of(name, change, List.of(expectedInMessage));
  }
}
