package dev.configsync.systest;

import static org.junit.jupiter.api.Assertions.fail;

import java.nio.file.Files;
import java.nio.file.Path;

/**
 * The shipped runnable jars the system tests start, and where they write their files. The paths
 * come from system properties that the module's pom sets (surefire's {@code
 * systemPropertyVariables}), so they are named in one place.
 */
final class Jars {
  private Jars() {}

  /** {@code configsync-cp}, the standalone control plane. */
  static Path controlPlane() {
    return jar("configsync.systest.cpJar", "configsync-cp");
  }

  /** {@code configsync-agent}, the sidecar. */
  static Path agent() {
    return jar("configsync.systest.agentJar", "configsync-agent");
  }

  /** The example gateway ({@code configsync-gateway.jar}). */
  static Path gateway() {
    return jar("configsync.systest.gatewayJar", "the example gateway");
  }

  /** The directory under which each test keeps its processes' files (kept after the run). */
  static Path workDir() {
    String value = System.getProperty("configsync.systest.workDir");
    return value == null ? Path.of("target", "system-tests") : Path.of(value);
  }

  private static Path jar(String property, String what) {
    String value = System.getProperty(property);
    if (value == null) {
      fail(
          "the system property "
              + property
              + " is not set: run the system tests through Maven (mvn -pl system-tests ...),"
              + " whose pom names the jars");
    }
    Path jar = Path.of(value).toAbsolutePath().normalize();
    if (!Files.isRegularFile(jar)) {
      fail(
          "the "
              + what
              + " jar "
              + jar
              + " does not exist: build the jars first (mvn -B -pl system-tests -am package"
              + " -DskipTests), or run the whole build (mvn -B verify)");
    }
    return jar;
  }
}
