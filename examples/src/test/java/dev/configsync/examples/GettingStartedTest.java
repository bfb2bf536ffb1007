package dev.configsync.examples;

import static java.nio.charset.StandardCharsets.UTF_8;
import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.cp.etcd.EtcdCluster;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.StringWriter;
import java.net.InetAddress;
import java.net.ServerSocket;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Instant;
import java.util.ArrayList;
import java.util.Comparator;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.TimeoutException;
import java.util.function.Predicate;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import javax.tools.JavaCompiler;
import javax.tools.ToolProvider;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.io.TempDir;

/**
 * Runs the commands and the Java code of {@code docs/getting-started.md} (and of the replica
 * walk-through in {@code docs/high-availability.md}) as a newcomer would: the shell blocks in
 * order, in one bash session (so a {@code cd} in one block holds for the next) started in the root
 * of the clone, against the jars this build made; long-running commands in the background, in a
 * directory of their own, as in a second terminal; the Java block compiled against this module's
 * class path and run. A command that fails, or a background command that never prints what the page
 * says it prints, fails the test.
 *
 * <p>Each fenced {@code sh} or {@code java} block of the pages must follow an HTML comment that
 * says what to do with it (a block without one fails the test, so a new command cannot go untested
 * by accident):
 *
 * <ul>
 *   <li>{@code <!-- doc-test: run -->}: run in the session;
 *   <li>{@code <!-- doc-test: retry -->}: run until it succeeds, for at most a minute (a read of
 *       something that arrives within milliseconds, faster than anyone types);
 *   <li>{@code <!-- doc-test: background "TEXT" -->}: start in the background and wait until its
 *       output holds TEXT;
 *   <li>{@code <!-- doc-test: java background "TEXT" -->}: compile the Java block, run its class in
 *       the background and wait for TEXT;
 *   <li>{@code <!-- doc-test: skip (why) -->}: not run.
 * </ul>
 *
 * <p>Two substitutions keep runs apart (from each other and from anything a developer runs): {@code
 * /tmp/cs} becomes a temporary directory, and each port the pages use becomes a free one.
 * Everything started is stopped when the test ends.
 */
class GettingStartedTest {
  private static final Path ROOT = Path.of(System.getProperty("user.dir")).toAbsolutePath();
  private static final Path REPO = ROOT.getParent();
  private static final Path GETTING_STARTED = REPO.resolve("docs/getting-started.md");
  private static final Path HIGH_AVAILABILITY = REPO.resolve("docs/high-availability.md");

  /** The ports the pages use; each is replaced by a free one. */
  private static final List<Integer> PORTS =
      List.of(8005, 8001, 8015, 8011, 8025, 8021, 12379, 22379, 32379, 12380, 22380, 32380);

  private static final Pattern MARKER = Pattern.compile("<!-- doc-test: (.*?) -->");
  private static final Pattern WAIT_FOR = Pattern.compile("\"(.*)\"");

  @TempDir Path dir;

  enum Kind {
    RUN,
    RETRY,
    BACKGROUND,
    JAVA,
    SKIP
  }

  record Block(Path file, int line, String language, Kind kind, String readyText, String text) {
    String where() {
      return REPO.relativize(file) + ":" + line;
    }
  }

  @Test
  void gettingStartedWorksWordForWord() throws Exception {
    List<Block> blocks = blocks(GETTING_STARTED, section -> true);
    assertThat(blocks).extracting(Block::kind).contains(Kind.RUN, Kind.BACKGROUND, Kind.JAVA);
    String out = run(blocks);
    // Step 3's publish answered, and the gateway logged what it routes by.
    assertThat(out).contains("\"hash\":", "\"changed\":true");
  }

  @Test
  void theDependenciesShownAreThisBuildsAndIncludeAnSlf4jBinding() throws IOException {
    String page = Files.readString(GETTING_STARTED, UTF_8);
    Matcher xml = Pattern.compile("(?s)```xml\n(.*?)```").matcher(page);
    assertThat(xml.find()).as("step 4 shows the Maven dependencies").isTrue();
    String dependencies = xml.group(1);
    Matcher parent =
        Pattern.compile("<artifactId>configsync-parent</artifactId>\\s*<version>([^<]+)</version>")
            .matcher(Files.readString(REPO.resolve("pom.xml"), UTF_8));
    assertThat(parent.find()).isTrue();
    Matcher slf4j =
        Pattern.compile("<slf4j\\.version>([^<]+)</slf4j\\.version>")
            .matcher(Files.readString(REPO.resolve("pom.xml"), UTF_8));
    assertThat(slf4j.find()).isTrue();
    assertThat(dependencies)
        .contains(
            "<artifactId>configsync-transport-okhttp</artifactId>\n  <version>"
                + parent.group(1)
                + "</version>",
            "<artifactId>configsync-cache</artifactId>\n  <version>"
                + parent.group(1)
                + "</version>",
            "<artifactId>slf4j-simple</artifactId>\n  <version>" + slf4j.group(1) + "</version>");
  }

  @Test
  void twoReplicasOnEtcdWorkAsHighAvailabilityShows() throws Exception {
    EtcdCluster.requireEtcd();
    List<Block> blocks = new ArrayList<>(blocks(GETTING_STARTED, s -> s.matches("## [123]\\..*")));
    List<Block> replicas =
        blocks(HIGH_AVAILABILITY, s -> s.equals("## Running replicas with configsync-cp"));
    assertThat(replicas).extracting(Block::kind).contains(Kind.RUN, Kind.BACKGROUND, Kind.RETRY);
    blocks.addAll(replicas);
    String out = run(blocks);
    // cp-b answered GET /config with the configuration published on cp-a.
    assertThat(out).contains("etag: \"").contains("echo-route");
  }

  /** The marked blocks of {@code file} in the sections {@code section} accepts, in order. */
  static List<Block> blocks(Path file, Predicate<String> section) throws IOException {
    List<String> lines = Files.readAllLines(file, UTF_8);
    List<Block> blocks = new ArrayList<>();
    String heading = "";
    String marker = null;
    int markerLine = -1;
    for (int i = 0; i < lines.size(); i++) {
      String line = lines.get(i);
      if (line.startsWith("## ")) {
        heading = line.strip();
      }
      Matcher m = MARKER.matcher(line.strip());
      if (m.matches()) {
        marker = m.group(1);
        markerLine = i;
        continue;
      }
      if (!line.startsWith("```") || line.strip().equals("```")) {
        continue;
      }
      String language = line.substring(3).strip();
      int start = i + 1;
      int end = start;
      while (end < lines.size() && !lines.get(end).startsWith("```")) {
        end++;
      }
      String text = String.join("\n", lines.subList(start, end)) + "\n";
      boolean marked = marker != null && markerLine == start - 2;
      String how = marked ? marker : null;
      marker = null;
      i = end;
      if (!section.test(heading) || !(language.equals("sh") || language.equals("java"))) {
        continue;
      }
      if (how == null) {
        throw new AssertionError(
            REPO.relativize(file)
                + ":"
                + start
                + ": a "
                + language
                + " block without a '<!-- doc-test: ... -->' line just before it; say how to"
                + " test it (see GettingStartedTest)");
      }
      blocks.add(block(file, start, language, how, text));
    }
    return blocks;
  }

  private static Block block(Path file, int line, String language, String how, String text) {
    Kind kind;
    if (how.startsWith("skip")) {
      kind = Kind.SKIP;
    } else if (how.equals("run")) {
      kind = Kind.RUN;
    } else if (how.equals("retry")) {
      kind = Kind.RETRY;
    } else if (how.startsWith("background ")) {
      kind = Kind.BACKGROUND;
    } else if (how.startsWith("java background ")) {
      kind = Kind.JAVA;
    } else {
      throw new AssertionError(REPO.relativize(file) + ":" + line + ": unknown doc-test: " + how);
    }
    String ready = "";
    if (kind == Kind.BACKGROUND || kind == Kind.JAVA) {
      Matcher m = WAIT_FOR.matcher(how);
      if (!m.find()) {
        throw new AssertionError(
            REPO.relativize(file) + ":" + line + ": background needs the text to wait for");
      }
      ready = m.group(1);
    }
    if ((kind == Kind.JAVA) != language.equals("java") && kind != Kind.SKIP) {
      throw new AssertionError(
          REPO.relativize(file) + ":" + line + ": '" + how + "' does not fit a " + language);
    }
    return new Block(file, line, language, kind, ready, text);
  }

  /** Runs the blocks in one bash session; returns its output, or fails with every log. */
  private String run(List<Block> blocks) throws Exception {
    Path work = Files.createDirectories(dir.resolve("work"));
    Path terminal = Files.createDirectories(dir.resolve("terminal"));
    Map<String, String> substitutions = new LinkedHashMap<>();
    substitutions.put("/tmp/cs", dir.resolve("cs").toString());
    for (int port : PORTS) {
      substitutions.put(Integer.toString(port), Integer.toString(freePort()));
    }
    Path classes = Files.createDirectories(work.resolve("classes"));

    StringBuilder script = new StringBuilder();
    script.append(
        """
        set -euo pipefail
        doctest_failed() { printf '\\nDOCTEST-FAILED at %s\\n' "$DOCTEST_AT"; read -r _ || true; }
        trap doctest_failed ERR
        wait_for() { # log text pid
          local deadline=$((SECONDS + 120))
          until grep -qsF -- "$2" "$1"; do
            if ! kill -0 "$3" 2>/dev/null; then
              echo "doc-test: $DOCTEST_AT exited before printing '$2'" >&2; return 1
            fi
            if (( SECONDS >= deadline )); then
              echo "doc-test: $DOCTEST_AT did not print '$2' within 120 s" >&2; return 1
            fi
            sleep 0.2
          done
        }
        retry() { # script
          local deadline=$((SECONDS + 60))
          until bash -euo pipefail "$1"; do
            if (( SECONDS >= deadline )); then return 1; fi
            sleep 0.5
          done
        }
        """);
    int n = 0;
    for (Block b : blocks) {
      n++;
      if (b.kind() == Kind.SKIP) {
        continue;
      }
      String text = substitute(b.text(), substitutions);
      Path file = work.resolve("block-" + n + ".sh");
      Path log = work.resolve("block-" + n + ".log");
      script.append("DOCTEST_AT='").append(b.where()).append("'\n");
      script.append("printf '\\n=== %s\\n' \"$DOCTEST_AT\"\n");
      switch (b.kind()) {
        case RUN -> script.append(text);
        case RETRY -> {
          Files.writeString(file, text);
          script.append("retry '").append(file).append("'\n");
        }
        case BACKGROUND -> {
          Files.writeString(file, text);
          script
              .append("(cd '")
              .append(terminal)
              .append("' && exec bash -euo pipefail '")
              .append(file)
              .append("') > '")
              .append(log)
              .append("' 2>&1 < /dev/null &\n");
          script.append(waitFor(log, b.readyText()));
        }
        case JAVA -> {
          String mainClass = compile(b, text, classes);
          script
              .append("(cd '")
              .append(terminal)
              // slf4j-simple's default level: this class path holds test settings of its own.
              .append("' && exec java -Dorg.slf4j.simpleLogger.defaultLogLevel=info")
              .append(" -cp \"$DOCTEST_CLASSPATH:")
              .append(classes)
              .append("\" ")
              .append(mainClass)
              .append(") > '")
              .append(log)
              .append("' 2>&1 < /dev/null &\n");
          script.append(waitFor(log, b.readyText()));
        }
        case SKIP -> throw new AssertionError("unreachable");
      }
      script.append("\n");
    }
    script.append("printf '\\nDOCTEST-DONE\\n'\nread -r _ || true\n");
    Path scriptFile = Files.writeString(work.resolve("steps.sh"), script);

    Path java = Path.of(System.getProperty("java.home"), "bin");
    ProcessBuilder builder =
        new ProcessBuilder("bash", scriptFile.toString())
            .directory(REPO.toFile())
            .redirectErrorStream(true);
    builder.environment().put("PATH", java + ":" + System.getenv("PATH"));
    builder.environment().put("DOCTEST_CLASSPATH", System.getProperty("java.class.path"));
    Process bash = builder.start();
    StringWriter out = new StringWriter();
    CompletableFuture<String> end = new CompletableFuture<>();
    Thread reader =
        new Thread(
            () -> {
              try (BufferedReader in =
                  new BufferedReader(new InputStreamReader(bash.getInputStream(), UTF_8))) {
                for (String line; (line = in.readLine()) != null; ) {
                  synchronized (out) {
                    out.write(line + "\n");
                  }
                  if (line.equals("DOCTEST-DONE") || line.startsWith("DOCTEST-FAILED")) {
                    end.complete(line);
                  }
                }
                end.complete("bash exited with " + bash.waitFor());
              } catch (IOException | InterruptedException e) {
                end.completeExceptionally(e);
              }
            },
            "doc-test-output");
    reader.setDaemon(true);
    reader.start();
    String verdict;
    try {
      verdict = end.get(10, TimeUnit.MINUTES);
    } catch (TimeoutException e) {
      verdict = "timed out after 10 minutes";
    } finally {
      stopEverythingStartedBy(bash);
    }
    String output;
    synchronized (out) {
      output = out.toString();
    }
    assertThat(verdict).as(() -> report(output, work)).isEqualTo("DOCTEST-DONE");
    return output;
  }

  private static String waitFor(Path log, String text) {
    return "wait_for '" + log + "' '" + text.replace("'", "'\\''") + "' $!\n";
  }

  /** Compiles the Java block (with its own package and imports) and returns its main class. */
  private String compile(Block b, String text, Path classes) throws IOException {
    Matcher pkg = Pattern.compile("(?m)^package ([\\w.]+);").matcher(text);
    Matcher cls = Pattern.compile("(?m)^public (?:final )?class (\\w+)").matcher(text);
    if (!pkg.find() || !cls.find()) {
      throw new AssertionError(b.where() + ": the Java block needs a package and a public class");
    }
    Path source = dir.resolve("src").resolve(pkg.group(1).replace('.', '/'));
    Path file = Files.createDirectories(source).resolve(cls.group(1) + ".java");
    Files.writeString(file, text);
    JavaCompiler javac = ToolProvider.getSystemJavaCompiler();
    StringWriter messages = new StringWriter();
    boolean ok =
        javac
            .getTask(
                messages,
                null,
                null,
                List.of(
                    "-d",
                    classes.toString(),
                    "-cp",
                    System.getProperty("java.class.path"),
                    "--release",
                    "17",
                    "-Xlint:all",
                    "-Werror"),
                null,
                javac.getStandardFileManager(null, null, UTF_8).getJavaFileObjects(file))
            .call();
    assertThat(ok).as(b.where() + ": the Java block does not compile:\n" + messages).isTrue();
    return pkg.group(1) + "." + cls.group(1);
  }

  /**
   * SIGTERM to every process the session started, the last started first (replicas before etcd),
   * each given 30 s before SIGKILL.
   */
  private static void stopEverythingStartedBy(Process bash) throws InterruptedException {
    List<ProcessHandle> started =
        bash.descendants()
            .sorted(
                Comparator.comparing(
                        (ProcessHandle p) -> p.info().startInstant().orElse(Instant.EPOCH))
                    .reversed())
            .toList();
    for (ProcessHandle p : started) {
      p.destroy();
      try {
        p.onExit().get(30, TimeUnit.SECONDS);
      } catch (TimeoutException | java.util.concurrent.ExecutionException e) {
        p.destroyForcibly();
      }
    }
    bash.destroy();
    if (!bash.waitFor(10, TimeUnit.SECONDS)) {
      bash.destroyForcibly();
    }
  }

  private static String report(String output, Path work) {
    StringBuilder r = new StringBuilder("the documented commands failed; session output:\n");
    r.append(output);
    try (Stream<Path> logs = Files.list(work)) {
      for (Path log : logs.filter(p -> p.toString().endsWith(".log")).sorted().toList()) {
        r.append("\n--- ").append(log.getFileName()).append(":\n").append(Files.readString(log));
      }
    } catch (IOException e) {
      r.append("\n(cannot list the logs: ").append(e).append(")");
    }
    return r.toString();
  }

  private static String substitute(String text, Map<String, String> substitutions) {
    String result = text;
    for (Map.Entry<String, String> s : substitutions.entrySet()) {
      String from = s.getKey();
      String pattern =
          from.chars().allMatch(Character::isDigit)
              ? "(?<![0-9])" + from + "(?![0-9])"
              : Pattern.quote(from);
      result = result.replaceAll(pattern, Matcher.quoteReplacement(s.getValue()));
    }
    return result;
  }

  private static int freePort() throws IOException {
    try (ServerSocket s = new ServerSocket(0, 1, InetAddress.getLoopbackAddress())) {
      return s.getLocalPort();
    }
  }
}
