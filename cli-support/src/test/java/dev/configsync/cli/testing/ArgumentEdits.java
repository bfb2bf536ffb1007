package dev.configsync.cli.testing;

import java.util.List;
import java.util.function.UnaryOperator;

/** Edits of a valid argument list, for tests that make one flag wrong at a time. */
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
}
