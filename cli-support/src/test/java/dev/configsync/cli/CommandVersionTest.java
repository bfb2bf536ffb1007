package dev.configsync.cli;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.util.concurrent.Callable;
import org.junit.jupiter.api.Test;
import picocli.CommandLine;
import picocli.CommandLine.Command;

class CommandVersionTest {
  @Command(
      name = "some-command",
      mixinStandardHelpOptions = true,
      versionProvider = CommandVersion.class)
  static final class SomeCommand implements Callable<Integer> {
    @Override
    public Integer call() {
      return 0;
    }
  }

  @Test
  void theBuildVersionIsTheMavenProjectVersion() {
    // Surefire passes the pom's version: the filtered resource holds the same.
    assertThat(CommandVersion.buildVersion()).isEqualTo(System.getProperty("expected.version"));
  }

  @Test
  void printsTheCommandsNameAndTheBuildVersionForDashVAndDashDashVersion() {
    for (String flag : new String[] {"-V", "--version"}) {
      ByteArrayOutputStream bytes = new ByteArrayOutputStream();
      PrintStream out = new PrintStream(bytes, true, StandardCharsets.UTF_8);
      int exit =
          CommandRunner.execute(
              "some-command",
              new CommandLine(new SomeCommand()),
              new String[] {flag},
              out,
              out,
              new StopSignal());
      assertThat(exit).isEqualTo(CommandRunner.EXIT_OK);
      assertThat(bytes.toString(StandardCharsets.UTF_8))
          .isEqualTo(
              "some-command " + System.getProperty("expected.version") + System.lineSeparator());
    }
  }
}
