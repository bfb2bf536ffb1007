package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import java.io.IOException;
import java.lang.module.ModuleDescriptor;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayDeque;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.HashSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.jar.JarFile;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;
import org.junit.jupiter.api.Test;

/**
 * Every jar the build makes names its JPMS module in its manifest ({@code Automatic-Module-Name},
 * set by the parent pom from each module's {@code automatic.module.name} property): a valid module
 * name under {@code dev.configsync}, a different one per module, the same in the runnable jars.
 * Every pom is checked; the jars read are those of the modules this one depends on, the only ones
 * sure to be whole while these tests run in a parallel build.
 */
class JarManifestTest {
  private static final Path ROOT =
      Jars.controlPlane().toAbsolutePath().getParent().getParent().getParent();
  private static final Pattern MODULE = Pattern.compile("<module>([^<]+)</module>");
  private static final Pattern ARTIFACT =
      Pattern.compile("<artifactId>(configsync-[^<]+)</artifactId>");
  private static final Pattern NAME =
      Pattern.compile("<automatic.module.name>([^<]+)</automatic.module.name>");

  /** The reactor's modules, in the parent pom's order: directory -> its pom. */
  static Map<String, String> modulePoms() throws IOException {
    Map<String, String> out = new java.util.LinkedHashMap<>();
    Matcher modules = MODULE.matcher(Files.readString(ROOT.resolve("pom.xml")));
    while (modules.find()) {
      String dir = modules.group(1);
      out.put(dir, Files.readString(ROOT.resolve(dir).resolve("pom.xml")));
    }
    return out;
  }

  /** The reactor's modules that make a jar: directory -> the name their pom sets. */
  static Map<String, String> declaredNames() throws IOException {
    Map<String, String> out = new HashMap<>();
    for (Map.Entry<String, String> module : modulePoms().entrySet()) {
      String dir = module.getKey();
      String pom = module.getValue();
      if (pom.contains("<packaging>pom</packaging>") || dir.equals("system-tests")) {
        continue; // no jar: the BOM, and this module (test code only)
      }
      Matcher name = NAME.matcher(pom);
      assertThat(name.find())
          .as("%s/pom.xml sets automatic.module.name (dev.configsync.<what>)", dir)
          .isTrue();
      out.put(dir, name.group(1));
    }
    return out;
  }

  static String manifestName(Path jar) throws IOException {
    try (JarFile file = new JarFile(jar.toFile())) {
      assertThat(file.getManifest()).as("%s has a manifest", jar).isNotNull();
      String name = file.getManifest().getMainAttributes().getValue("Automatic-Module-Name");
      assertThat(name).as("Automatic-Module-Name of %s", jar).isNotNull();
      return name;
    }
  }

  /**
   * The main jars under {@code dir}/target (not sources, javadoc or shade's original), when this
   * module depends on {@code dir}'s, directly or not; none otherwise. The reactor builds modules
   * that do not depend on each other side by side and waits for a module's dependencies only: the
   * jar of another module (the benchmarks', say) can be half written while these tests run, and
   * reading it failed with "zip END header not found".
   */
  static List<Path> builtJars(String dir, Set<String> dependedOn) throws IOException {
    Path target = ROOT.resolve(dir).resolve("target");
    if (!dependedOn.contains(dir) || !Files.isDirectory(target)) {
      return List.of();
    }
    try (Stream<Path> files = Files.list(target)) {
      return files
          .filter(f -> f.getFileName().toString().matches("configsync-.*\\.jar"))
          .filter(f -> !f.getFileName().toString().matches(".*-(sources|javadoc|tests)\\.jar"))
          .sorted()
          .toList();
    }
  }

  /**
   * The directories of the reactor's modules that {@code dir}'s module depends on, directly or not,
   * in any scope or through a plugin: those the reactor builds before it. Read from the poms: each
   * module's own artifactId is the first after its parent, and every later {@code configsync-}
   * artifactId that is a module of the reactor is one it needs.
   */
  static Set<String> dependenciesOf(String dir) throws IOException {
    Map<String, String> dirByArtifact = new HashMap<>();
    Map<String, List<String>> needs = new HashMap<>();
    for (Map.Entry<String, String> pom : modulePoms().entrySet()) {
      String module = pom.getKey();
      Matcher artifact =
          ARTIFACT.matcher(pom.getValue().replaceAll("(?s)<parent>.*?</parent>", ""));
      assertThat(artifact.find()).as("%s/pom.xml names its artifactId", module).isTrue();
      dirByArtifact.put(artifact.group(1), module);
      List<String> deps = new ArrayList<>();
      while (artifact.find()) {
        deps.add(artifact.group(1));
      }
      needs.put(module, deps);
    }
    Set<String> found = new HashSet<>();
    ArrayDeque<String> todo = new ArrayDeque<>(List.of(dir));
    while (!todo.isEmpty()) {
      for (String artifact : needs.getOrDefault(todo.pop(), List.of())) {
        String module = dirByArtifact.get(artifact);
        if (module != null && found.add(module)) {
          todo.add(module);
        }
      }
    }
    return found;
  }

  @Test
  void everyModuleNamesAValidDistinctModuleUnderDevConfigsync() throws IOException {
    Map<String, String> names = declaredNames();
    assertThat(names).containsEntry("core", "dev.configsync.core");
    assertThat(names).containsEntry("control-plane", "dev.configsync.cp");
    assertThat(names.values()).doesNotHaveDuplicates();
    for (Map.Entry<String, String> e : names.entrySet()) {
      assertThat(e.getValue()).as(e.getKey()).startsWith("dev.configsync.");
      // What the module system itself checks: each part a Java identifier, no keyword.
      assertThat(ModuleDescriptor.newModule(e.getValue()).build().name()).isEqualTo(e.getValue());
    }
  }

  @Test
  void everyBuiltJarCarriesItsModulesName() throws IOException {
    Map<String, String> names = declaredNames();
    Set<String> dependedOn = dependenciesOf("system-tests");
    assertThat(dependedOn)
        .as("modules this one depends on")
        .contains("core", "control-plane", "control-plane-cli", "agent", "examples/gateway")
        .doesNotContain("benchmarks", "system-tests");
    List<String> checked = new ArrayList<>();
    for (Map.Entry<String, String> e : names.entrySet()) {
      for (Path jar : builtJars(e.getKey(), dependedOn)) {
        assertThat(manifestName(jar)).as("%s", jar).isEqualTo(e.getValue());
        checked.add(ROOT.relativize(jar).toString());
      }
    }
    // The runnable jars are built before these tests (this module depends on them), and so are
    // the libraries they are made of.
    assertThat(manifestName(Jars.agent())).isEqualTo(names.get("agent"));
    assertThat(manifestName(Jars.controlPlane())).isEqualTo(names.get("control-plane-cli"));
    assertThat(manifestName(Jars.gateway())).isEqualTo(names.get("examples/gateway"));
    assertThat(checked)
        .as("jars checked")
        .anyMatch(j -> j.startsWith("core/target/configsync-core-"))
        .anyMatch(j -> j.startsWith("control-plane/target/configsync-control-plane-"))
        .anyMatch(j -> j.startsWith("control-plane-etcd/target/configsync-control-plane-etcd-"))
        .anyMatch(j -> j.startsWith("transport-okhttp/target/configsync-transport-okhttp-"));
  }
}
