package dev.configsync.examples;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import java.io.ByteArrayOutputStream;
import java.io.PrintStream;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.concurrent.TimeUnit;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.Timeout;

/** Runs the whole demo in-process, as {@code java -jar configsync-demo.jar} would. */
class ResilienceDemoTest {

  @Test
  @Timeout(value = 40, unit = TimeUnit.SECONDS)
  void demoPassesItsOwnChecksAndNarratesEveryStep() {
    ByteArrayOutputStream bytes = new ByteArrayOutputStream();
    int exit;
    try (PrintStream out = new PrintStream(bytes, true, UTF_8)) {
      exit = ResilienceDemo.run(out, false);
    }
    String output = bytes.toString(UTF_8);

    assertThat(exit).as(output).isZero();
    assertThat(output)
        .contains(
            "[1/8] Starting a control plane and two data planes",
            "[2/8] Publishing configuration v1 through the Java API",
            "[3/8] Publishing v2 as YAML through the admin API while both nodes are connected",
            "[4/8] Killing the control plane",
            "[5/8] Restarting dp-2 while the control plane is down",
            "[6/8] Publishing v3, v4 and v5 while the control plane is down",
            "[7/8] Bringing the control plane back on the same port",
            "[8/8] Shutting down")
        .contains(
            "dp-1 received exactly one configuration after the restart: only v5",
            "dp-2 received exactly one configuration after the restart: only v5",
            "dp-1 ran v1, then v2, then v5: never v3 or v4",
            "dp-2 ran v1, then v2, then v2 from its cache, then v5: never v3 or v4")
        .containsPattern("The admin API answered 200: \\p{XDigit}{8} \\(v2\\), changed")
        .containsPattern(
            "The store keeps only the latest: cp-store/config\\.json\\.gz holds \\p{XDigit}{8}"
                + " \\(v5\\)")
        .containsPattern("it loaded \\p{XDigit}{8} \\(v5\\) from its store")
        .containsPattern(
            "The node's own count \\(status\\(\\)\\.applied\\(\\)\\): \\d+ -> \\d+, one"
                + " configuration applied")
        .containsPattern(
            "dp-2's heartbeat tells the control plane it runs \\p{XDigit}{8} \\(v5\\) \\(sync"
                + " status normal\\)")
        .containsPattern(
            "/clustering/data-planes: dp-1 connected on \\p{XDigit}{8} \\(v5\\), normal; dp-2"
                + " connected on \\p{XDigit}{8} \\(v5\\), normal")
        .containsPattern("Control plane stopped: port \\d+ is free again")
        .containsPattern("dp-2 serves \\p{XDigit}{8} \\(v2\\) from CACHE as soon as start\\(\\)")
        .containsPattern("dp-1 cached it: .*config\\.json\\.gz, \\d+ bytes; zcat shows")
        .containsPattern("All \\d+ checks passed")
        .doesNotContain("FAILED", "Exception\n", "\tat ");

    Matcher workDir = Pattern.compile("Working directory: (\\S+)").matcher(output);
    assertThat(workDir.find()).as(output).isTrue();
    assertThat(Files.exists(Path.of(workDir.group(1)))).as("temporary directory deleted").isFalse();
  }
}
