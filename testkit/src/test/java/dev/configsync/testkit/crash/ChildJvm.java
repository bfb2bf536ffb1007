package dev.configsync.testkit.crash;

import java.io.File;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.FileSystem;
import java.nio.file.FileSystems;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.jar.JarEntry;
import java.util.jar.JarFile;
import java.util.jar.JarOutputStream;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import java.util.zip.Deflater;

/**
 * The command line of a child JVM that runs a class of this test classpath and starts fast: client
 * compiler only, serial GC, small stacks, and, once {@link #archiveCommand} has been run to a clean
 * exit, a class-data-sharing archive of the classes it loaded (about a third less CPU per start,
 * which is what a test that starts hundreds of JVMs spends its time on).
 *
 * <p>Class-data sharing in Java 17 refuses class path directories, so the directories of the test
 * class path ({@code target/classes}, {@code target/test-classes}) are copied into jars first. It
 * also skips the classes of signed jars (Bouncy Castle's), which every start would otherwise load
 * and check against the jar's signature (about 150 ms of a start of half a second): those jars are
 * copied without their signature files. If the archive is never written, children simply start
 * without it.
 */
final class ChildJvm {
  private final List<String> classPath;
  private final Path archive;

  private ChildJvm(List<String> classPath, Path archive) {
    this.classPath = classPath;
    this.archive = archive;
  }

  /** Prepares the class path of this JVM for children, in {@code workDir}. */
  static ChildJvm prepare(Path workDir) throws IOException {
    Files.createDirectories(workDir);
    List<String> entries = new ArrayList<>();
    int n = 0;
    String classPath = System.getProperty("java.class.path");
    for (String entry : classPath.split(Pattern.quote(File.pathSeparator), -1)) {
      Path path = Path.of(entry);
      if (Files.isDirectory(path)) {
        Path jar = workDir.resolve("classpath-" + n++ + ".jar");
        jar(path, jar);
        entries.add(jar.toString());
      } else if (isSigned(path)) {
        Path copy = workDir.resolve("unsigned-" + n++ + ".jar");
        unsigned(path, copy);
        entries.add(copy.toString());
      } else if (!entry.isEmpty()) {
        entries.add(entry);
      }
    }
    return new ChildJvm(entries, workDir.resolve("child.jsa"));
  }

  /** A child that writes the archive when it exits normally (a crash leaves none). */
  List<String> archiveCommand(String mainClass, String... args) {
    return command(List.of("-XX:ArchiveClassesAtExit=" + archive), mainClass, args);
  }

  /** A child, using the archive if there is one. */
  List<String> command(String mainClass, String... args) {
    return command(
        Files.isRegularFile(archive) ? List.of("-XX:SharedArchiveFile=" + archive) : List.of(),
        mainClass,
        args);
  }

  /** Whether {@link #archiveCommand} has written the archive. */
  boolean hasArchive() {
    return Files.isRegularFile(archive);
  }

  private List<String> command(List<String> extra, String mainClass, String... args) {
    List<String> command = new ArrayList<>();
    command.add(Path.of(System.getProperty("java.home"), "bin", "java").toString());
    command.addAll(
        List.of(
            "-XX:TieredStopAtLevel=1",
            "-XX:+UseSerialGC",
            "-Xshare:auto",
            "-Xss512k",
            "-Xmx256m",
            "-XX:-UsePerfData",
            // The JVM's own warnings (a jar that class-data sharing skips, say) go to stderr, so
            // that
            // stdout carries only what the child prints.
            "-Xlog:disable",
            "-Xlog:all=warning:stderr"));
    command.addAll(extra);
    command.add("-cp");
    command.add(String.join(File.pathSeparator, classPath));
    command.add(mainClass);
    command.addAll(List.of(args));
    return command;
  }

  private static final Pattern SIGNATURE_FILE =
      Pattern.compile("META-INF/[^/]+\\.(SF|RSA|DSA|EC)", Pattern.CASE_INSENSITIVE);

  private static boolean isSigned(Path path) throws IOException {
    if (!path.getFileName().toString().endsWith(".jar") || !Files.isRegularFile(path)) {
      return false;
    }
    try (JarFile jar = new JarFile(path.toFile(), false)) {
      return jar.stream().anyMatch(e -> SIGNATURE_FILE.matcher(e.getName()).matches());
    }
  }

  /**
   * Copies {@code jar} to {@code copy} without its signature files (the entries go over as they
   * are).
   */
  private static void unsigned(Path jar, Path copy) throws IOException {
    Files.copy(jar, copy);
    try (FileSystem zip = FileSystems.newFileSystem(copy)) {
      Path metaInf = zip.getPath("META-INF");
      try (Stream<Path> files = Files.list(metaInf)) {
        for (Path file : files.toList()) {
          if (SIGNATURE_FILE.matcher("META-INF/" + file.getFileName()).matches()) {
            Files.delete(file);
          }
        }
      }
    }
  }

  private static void jar(Path directory, Path jar) throws IOException {
    try (OutputStream file = Files.newOutputStream(jar);
        JarOutputStream out = new JarOutputStream(file);
        Stream<Path> files = Files.walk(directory)) {
      out.setLevel(Deflater.BEST_SPEED);
      for (Path path : files.filter(Files::isRegularFile).sorted().toList()) {
        out.putNextEntry(new JarEntry(directory.relativize(path).toString().replace('\\', '/')));
        Files.copy(path, out);
        out.closeEntry();
      }
    }
  }
}
