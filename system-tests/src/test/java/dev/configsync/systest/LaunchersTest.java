package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * The launchers of bin/ ({@code configsync-agent}, {@code configsync-cp}), run from the checkout on
 * the jars the build made: they start the JVM with their documented defaults (docs/operations.md,
 * "Sizing"), pass JAVA_OPTS and CONFIGSYNC_JAVA_OPTS through, and let those replace the heap and
 * the collector. The JVM's {@code -XX:+PrintCommandLineFlags} shows the options it really got.
 */
class LaunchersTest {
  private static final Path ROOT =
      Jars.controlPlane().toAbsolutePath().getParent().getParent().getParent();

  private final Processes processes = Processes.in("launchers");
  private int runs;

  @AfterEach
  void tearDown() {
    processes.close();
  }

  /** A launcher, its jar as the build made it. */
  record Launcher(String name, Path builtJar) {
    Path script() {
      return ROOT.resolve("bin").resolve(name);
    }
  }

  static List<Launcher> launchers() {
    return List.of(
        new Launcher("configsync-agent", Jars.agent()),
        new Launcher("configsync-cp", Jars.controlPlane()));
  }

  /** Runs {@code launcher --help} with these JAVA_OPTS and CONFIGSYNC_JAVA_OPTS. */
  private Processes.Result help(Launcher launcher, String javaOpts, String configsyncOpts) {
    List<String> command =
        new ArrayList<>(
            List.of(
                "env",
                "-u",
                "CONFIGSYNC_JAR",
                "JAVA_HOME=" + System.getProperty("java.home"),
                "JAVA_OPTS=" + javaOpts,
                "CONFIGSYNC_JAVA_OPTS=" + configsyncOpts,
                launcher.script().toString(),
                "--help"));
    RunningProcess p = processes.exec(launcher.name() + "-" + ++runs, command);
    int exit = p.awaitExit(Duration.ofMinutes(1));
    return new Processes.Result(exit, p.stdoutText(), p.stderrText());
  }

  /** {@code -Xmx512m} as PrintCommandLineFlags says it: {@code -XX:MaxHeapSize=536870912}. */
  static String asPrinted(String option) {
    if (option.startsWith("-Xmx") || option.startsWith("-Xms")) {
      String size = option.substring(4).toLowerCase(Locale.ROOT);
      long unit =
          switch (size.charAt(size.length() - 1)) {
            case 'k' -> 1L << 10;
            case 'm' -> 1L << 20;
            case 'g' -> 1L << 30;
            default -> 1;
          };
      long bytes = Long.parseLong(unit == 1 ? size : size.substring(0, size.length() - 1)) * unit;
      return (option.startsWith("-Xmx") ? "-XX:MaxHeapSize=" : "-XX:InitialHeapSize=") + bytes;
    }
    return option;
  }

  static List<String> defaults(Launcher launcher) throws IOException {
    List<String> out = new ArrayList<>();
    for (String setting : List.of("gc_defaults", "heap_defaults")) {
      String options = DeployFilesTest.launcherSetting(launcher.script(), setting).strip();
      if (!options.isEmpty()) {
        out.addAll(List.of(options.split("\\s+", -1)));
      }
    }
    return out;
  }

  @Test
  void theLaunchersRunTheBuiltJarsWithTheirDefaultsAndTheUsersOptions() throws IOException {
    for (Launcher launcher : launchers()) {
      // The launcher finds the jar the build made: <module>/target/<jar_name>.
      assertThat(
              ROOT.resolve(DeployFilesTest.launcherSetting(launcher.script(), "jar_module"))
                  .resolve("target")
                  .resolve(DeployFilesTest.launcherSetting(launcher.script(), "jar_name")))
          .isEqualTo(launcher.builtJar());
      List<String> defaults = defaults(launcher);
      assertThat(defaults).as("%s chooses a collector and a heap", launcher).isNotEmpty();

      // JAVA_OPTS reaches the JVM, after the defaults, which all apply.
      Processes.Result plain = help(launcher, "-XX:+PrintCommandLineFlags", "");
      assertThat(plain.exit()).as(plain.stderr()).isZero();
      assertThat(plain.stdout()).contains("-XX:+ExitOnOutOfMemoryError");
      for (String option : defaults) {
        assertThat(plain.stdout()).as("%s: %s", launcher, option).contains(asPrinted(option));
      }
      assertThat(plain.stdout()).as("the program ran").contains("Usage:");
    }
  }

  @Test
  void theUsersHeapAndCollectorReplaceTheLaunchersOwn() {
    for (Launcher launcher : launchers()) {
      Processes.Result mine =
          help(launcher, "-XX:+PrintCommandLineFlags", "-Xms40m -Xmx96m -XX:+UseSerialGC");
      assertThat(mine.exit()).as(mine.stderr()).isZero();
      assertThat(mine.stdout())
          .contains("-XX:MaxHeapSize=100663296", "-XX:InitialHeapSize=41943040")
          .contains("-XX:+UseSerialGC")
          .doesNotContain("-XX:+UseG1GC")
          .doesNotContain("-XX:+UseZGC")
          .doesNotContain("MaxGCPauseMillis");
    }
  }

  @Test
  void aLauncherWithoutItsJarSaysWhatToSet() {
    Launcher agent = launchers().get(0);
    RunningProcess p =
        processes.exec(
            "no-jar",
            List.of(
                "env",
                "CONFIGSYNC_JAR=" + ROOT.resolve("no-such.jar"),
                agent.script().toString(),
                "--help"));
    assertThat(p.awaitExit(Duration.ofMinutes(1))).isEqualTo(1);
    assertThat(p.stderrText()).contains("CONFIGSYNC_JAR");
  }
}
