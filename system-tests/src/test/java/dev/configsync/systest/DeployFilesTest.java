package dev.configsync.systest;

import static org.assertj.core.api.Assertions.assertThat;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.dataformat.yaml.YAMLMapper;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.time.Duration;
import java.util.ArrayList;
import java.util.HashMap;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.Test;

/**
 * Keeps the images and manifests of deploy/ honest where no Docker engine or Kubernetes runs (CI):
 * each Dockerfile copies the jars the build makes and runs them as a numeric non-root user with a
 * health check; every manifest parses; every path its containers' arguments name is mounted (a
 * secret's item, a writable volume, or a file the image copies); and the real jars, given exactly
 * the arguments of the Dockerfiles and manifests (paths moved under a scratch directory), accept
 * every flag: they stop on the unusable certificate files (status 2, naming the file), not on an
 * unknown option. The control plane image's health check script runs against a real configsync-cp.
 */
class DeployFilesTest {
  private static final Path ROOT =
      Jars.controlPlane().toAbsolutePath().getParent().getParent().getParent();
  private static final Path DEPLOY = ROOT.resolve("deploy");
  private static final Path JAVA =
      Path.of(System.getProperty("java.home"), "bin", "java").toAbsolutePath();
  private static final ObjectMapper JSON = new ObjectMapper();

  /** The user of both images (Dockerfile USER) and of every pod (runAsUser). */
  private static final String USER = "10001:10001";

  /** Flags whose value is a directory the program writes, or a file it writes. */
  private static final Set<String> WRITTEN = Set.of("--store", "--cache-dir", "--output");

  private final Processes processes = Processes.in("deploy-files");

  @AfterEach
  void tearDown() {
    processes.close();
  }

  /** One Dockerfile instruction: its keyword and the rest, continuation lines joined. */
  record Instruction(String keyword, String rest) {
    /** The exec form's array (["a", "b"]) as a list. */
    List<String> execForm() {
      String json = rest.startsWith("CMD ") ? rest.substring(4) : rest;
      try {
        List<String> out = new ArrayList<>();
        JSON.readTree(json.strip()).forEach(n -> out.add(n.asText()));
        return out;
      } catch (IOException e) {
        throw new AssertionError(keyword + " is not in exec form: " + rest, e);
      }
    }
  }

  static List<Instruction> dockerfile(String name) throws IOException {
    List<Instruction> out = new ArrayList<>();
    StringBuilder line = new StringBuilder();
    for (String raw : Files.readAllLines(DEPLOY.resolve("docker").resolve(name))) {
      String l = raw.strip();
      if (line.isEmpty() && (l.isEmpty() || l.startsWith("#"))) {
        continue;
      }
      if (l.endsWith("\\")) {
        line.append(l, 0, l.length() - 1).append(' ');
        continue;
      }
      line.append(l);
      String[] parts = line.toString().split("\\s+", 2);
      out.add(
          new Instruction(
              parts[0].toUpperCase(java.util.Locale.ROOT), parts.length > 1 ? parts[1] : ""));
      line.setLength(0);
    }
    return out;
  }

  static List<Instruction> all(List<Instruction> file, String keyword) {
    return file.stream().filter(i -> i.keyword().equals(keyword)).toList();
  }

  static Instruction one(List<Instruction> file, String keyword) {
    List<Instruction> found = all(file, keyword);
    assertThat(found).as(keyword).hasSize(1);
    return found.get(0);
  }

  /** COPY destination -> source (relative to the repository root). */
  static Map<String, String> copies(List<Instruction> file) {
    Map<String, String> out = new LinkedHashMap<>();
    for (Instruction copy : all(file, "COPY")) {
      String[] words = copy.rest().split("\\s+");
      assertThat(words).as("COPY %s: one source, one destination", copy.rest()).hasSize(2);
      assertThat(ROOT.resolve(words[0])).as("COPY source").exists();
      out.put(words[1], words[0]);
    }
    return out;
  }

  /** What every image copies: destination -> source, over all Dockerfiles of deploy/docker. */
  static Map<String, String> imageFiles() throws IOException {
    Map<String, String> out = new HashMap<>();
    for (String name :
        List.of(
            "configsync-cp.Dockerfile",
            "configsync-agent.Dockerfile",
            "configsync-agent-nginx.Dockerfile")) {
      out.putAll(copies(dockerfile(name)));
    }
    return out;
  }

  /** Checks the shape common to the two images and returns the jar's path in the image. */
  static String checkImage(String name, Path builtJar, String volume) throws IOException {
    List<Instruction> file = dockerfile(name);
    Matcher base = Pattern.compile("BASE=(\\S+)").matcher(one(file, "ARG").rest());
    assertThat(base.find()).as("ARG BASE=...").isTrue();
    assertThat(base.group(1)).as("a JRE 17 base").contains("17").contains("jre");
    assertThat(one(file, "FROM").rest()).isEqualTo("${BASE}");

    Map<String, String> copies = copies(file);
    String jarInImage =
        copies.entrySet().stream()
            .filter(e -> e.getValue().endsWith(".jar"))
            .map(Map.Entry::getKey)
            .findFirst()
            .orElseThrow(() -> new AssertionError(name + " copies no jar"));
    assertThat(ROOT.resolve(copies.get(jarInImage)).normalize())
        .as("the jar the build makes")
        .isEqualTo(builtJar.toAbsolutePath().normalize());

    assertThat(one(file, "USER").rest()).isEqualTo(USER);
    assertThat(file.indexOf(one(file, "USER")))
        .as("USER before ENTRYPOINT")
        .isLessThan(file.indexOf(one(file, "ENTRYPOINT")));
    List<String> volumes = one(file, "VOLUME").execForm();
    assertThat(volumes).contains("/tmp", volume);

    // The entrypoint is the shipped launcher, which runs the jar beside its bin/ directory.
    List<String> entrypoint = one(file, "ENTRYPOINT").execForm();
    assertThat(entrypoint).hasSize(1);
    String launcher = entrypoint.get(0);
    Path launcherSource = Path.of(copies.getOrDefault(launcher, "(not copied)"));
    assertThat(launcherSource.getParent())
        .as("%s is a launcher of bin/", launcher)
        .hasToString("bin");
    assertThat(copies)
        .containsEntry(launcher.replaceAll("[^/]+$", "configsync-jvm.sh"), "bin/configsync-jvm.sh");
    assertThat(jarInImage)
        .as("the jar where %s looks for it", launcher)
        .isEqualTo(
            launcher.replaceAll("/bin/[^/]+$", "/")
                + launcherSetting(ROOT.resolve(launcherSource), "jar_name"));

    String healthcheck = one(file, "HEALTHCHECK").rest();
    assertThat(healthcheck).contains("CMD [");
    List<String> check =
        new Instruction("CMD", healthcheck.substring(healthcheck.indexOf("CMD "))).execForm();
    assertThat(check.get(0).equals("java") || copies.containsKey(check.get(0)))
        .as("the health check runs java or a file the image copies: %s", check)
        .isTrue();
    return jarInImage;
  }

  /** A variable the launcher script sets ({@code name="value"} or {@code name=value}). */
  static String launcherSetting(Path launcher, String name) throws IOException {
    for (String line : Files.readAllLines(launcher)) {
      if (line.startsWith(name + "=")) {
        return line.substring(name.length() + 1).replace("\"", "");
      }
    }
    throw new AssertionError(launcher + " sets no " + name);
  }

  /** The image's ENV instructions (KEY="value" or KEY=value, one per instruction). */
  static Map<String, String> imageEnv(List<Instruction> file) {
    Map<String, String> env = new LinkedHashMap<>();
    for (Instruction e : all(file, "ENV")) {
      String[] kv = e.rest().split("=", 2);
      assertThat(kv).as("ENV %s: one KEY=value", e.rest()).hasSize(2);
      env.put(kv[0], kv[1].replaceAll("^\"|\"$", ""));
    }
    return env;
  }

  /**
   * The image's files under {@code root}: what it copies (scripts copied, jars linked) at their
   * paths in the image, and {@code env ... ENTRYPOINT} to run its entrypoint there with the image's
   * environment and the JVM that runs the tests.
   */
  static List<String> imageEntrypoint(String dockerfile, Path root) throws IOException {
    List<Instruction> file = dockerfile(dockerfile);
    for (Map.Entry<String, String> copy : copies(file).entrySet()) {
      Path at = root.resolve(copy.getKey().substring(1));
      Files.createDirectories(at.getParent());
      Path source = ROOT.resolve(copy.getValue()).toAbsolutePath();
      if (copy.getValue().endsWith(".jar")) {
        Files.createSymbolicLink(at, source);
      } else {
        Files.copy(source, at, java.nio.file.StandardCopyOption.COPY_ATTRIBUTES);
      }
    }
    List<String> command =
        new ArrayList<>(
            List.of(
                "env",
                "-u",
                "JAVA_OPTS",
                "-u",
                "CONFIGSYNC_JAVA_OPTS",
                "-u",
                "CONFIGSYNC_JAR",
                "JAVA_HOME=" + System.getProperty("java.home")));
    imageEnv(file).forEach((k, v) -> command.add(k + "=" + v));
    for (String part : one(file, "ENTRYPOINT").execForm()) {
      command.add(part.startsWith("/") ? root.resolve(part.substring(1)).toString() : part);
    }
    return command;
  }

  @Test
  void theImagesCopyTheBuiltJarsAndRunThemAsANonRootUserWithAHealthCheck() throws IOException {
    assertThat(
            checkImage("configsync-cp.Dockerfile", Jars.controlPlane(), "/var/lib/configsync-cp"))
        .isEqualTo("/opt/configsync/configsync-cp.jar");
    assertThat(checkImage("configsync-agent.Dockerfile", Jars.agent(), "/var/lib/configsync"))
        .isEqualTo("/opt/configsync/configsync-agent.jar");
    List<Instruction> nginx = dockerfile("configsync-agent-nginx.Dockerfile");
    assertThat(copies(nginx))
        .containsEntry("/opt/configsync/examples/nginx/render.sh", "examples/nginx/render.sh");
    List<Instruction> users = all(nginx, "USER");
    assertThat(users.get(users.size() - 1).rest()).as("the last USER").isEqualTo(USER);
    assertThat(Files.isExecutable(DEPLOY.resolve("docker/cp-healthcheck"))).isTrue();
  }

  /**
   * Runs the command of an image or a container with the real jar: the image's entrypoint (its
   * launcher, among the image's files laid out under a directory of their own), then {@code args},
   * every absolute path moved under {@code scratch} (files created empty, so no certificate in them
   * is usable).
   */
  private RunningProcess runWithBadFiles(
      String name, String dockerfile, List<String> args, Path scratch) throws IOException {
    List<String> command = imageEntrypoint(dockerfile, processes.dir(name + "-image"));
    String flag = null;
    for (String arg : args) {
      String value = arg;
      String prefix = "";
      if (arg.startsWith("--") && arg.contains("=")) {
        prefix = arg.substring(0, arg.indexOf('=') + 1);
        value = arg.substring(prefix.length());
        flag = prefix.substring(0, prefix.length() - 1);
      } else if (arg.startsWith("--")) {
        flag = arg;
        command.add(arg);
        continue;
      }
      if (value.startsWith("/")) {
        Path moved = scratch.resolve(value.substring(1));
        try {
          Files.createDirectories(moved.getParent());
          if (WRITTEN.contains(flag)) {
            if (!flag.equals("--output")) {
              Files.createDirectories(moved);
            }
          } else if (!Files.exists(moved)) {
            Files.writeString(moved, "");
            Files.setPosixFilePermissions(moved, PosixFilePermissions.fromString("rw-------"));
          }
        } catch (java.nio.file.FileAlreadyExistsException e) {
          // A mistyped flag made a file where a directory belongs: the program names the flag.
        }
        value = moved.toString();
      }
      command.add(prefix + value);
      flag = null;
    }
    return processes.exec(name, command);
  }

  /** The program accepted every flag and stopped at an unusable file: status 2, naming it. */
  private static void assertStoppedAtABadFile(RunningProcess p, Path scratch) {
    int status = p.awaitExit(Duration.ofMinutes(2));
    String stderr = p.stderrText();
    assertThat(stderr)
        .as("%s", p.command())
        .doesNotContainIgnoringCase("unknown option")
        .doesNotContainIgnoringCase("unmatched argument")
        .doesNotContainIgnoringCase("missing required")
        .contains(scratch.toString());
    assertThat(status).as(stderr).isEqualTo(2);
  }

  @Test
  void theImagesDefaultArgumentsAreFlagsTheJarsAccept() throws IOException {
    List<String> cpArgs = one(dockerfile("configsync-cp.Dockerfile"), "CMD").execForm();
    Path scratch = processes.dir("cp-image");
    assertStoppedAtABadFile(
        runWithBadFiles("cp-image", "configsync-cp.Dockerfile", cpArgs, scratch), scratch);

    // The agent image's health check, with its JVM options, on a directory no agent runs on:
    // status 1 and "running":false (an unknown flag would be status 2).
    String healthcheck = one(dockerfile("configsync-agent.Dockerfile"), "HEALTHCHECK").rest();
    List<String> check =
        new Instruction("CMD", healthcheck.substring(healthcheck.indexOf("CMD "))).execForm();
    assertThat(check).contains("status", "--cache-dir");
    RunningProcess status = runAgentProbe("agent-image-health", check);
    assertThat(status.awaitExit(Duration.ofMinutes(2))).as(status.stderrText()).isEqualTo(1);
    assertThat(status.stdoutText()).contains("\"running\":false");
  }

  /** A {@code java ... -jar /opt/configsync/configsync-agent.jar status --cache-dir DIR}. */
  private RunningProcess runAgentProbe(String name, List<String> command) throws IOException {
    List<String> real = new ArrayList<>();
    for (int i = 0; i < command.size(); i++) {
      String c = command.get(i);
      if (i == 0) {
        assertThat(c).isEqualTo("java");
        real.add(JAVA.toString());
      } else if (c.equals("/opt/configsync/configsync-agent.jar")) {
        real.add(Jars.agent().toString());
      } else if (c.startsWith("/")) {
        Path moved = processes.dir(name).resolve(c.substring(1));
        Files.createDirectories(moved);
        real.add(moved.toString());
      } else {
        real.add(c);
      }
    }
    return processes.exec(name, real);
  }

  static List<JsonNode> manifest(String name) throws IOException {
    List<JsonNode> docs = new ArrayList<>();
    try (var it =
        new YAMLMapper()
            .readerFor(JsonNode.class)
            .readValues(DEPLOY.resolve("k8s").resolve(name).toFile())) {
      while (it.hasNext()) {
        JsonNode doc = (JsonNode) it.next();
        if (!doc.isNull() && !doc.isMissingNode()) {
          docs.add(doc);
        }
      }
    }
    assertThat(docs).as(name).isNotEmpty();
    for (JsonNode doc : docs) {
      assertThat(doc.path("apiVersion").asText()).as("apiVersion in %s", name).isNotEmpty();
      assertThat(doc.path("kind").asText()).as("kind in %s", name).isNotEmpty();
      assertThat(doc.path("metadata").path("name").asText()).as("name in %s", name).isNotEmpty();
    }
    return docs;
  }

  static JsonNode kind(List<JsonNode> docs, String kind) {
    return docs.stream()
        .filter(d -> d.path("kind").asText().equals(kind))
        .findFirst()
        .orElseThrow(() -> new AssertionError("no " + kind));
  }

  /** Every container and init container of a pod spec. */
  static List<JsonNode> containers(JsonNode podSpec) {
    List<JsonNode> out = new ArrayList<>();
    podSpec.path("initContainers").forEach(out::add);
    podSpec.path("containers").forEach(out::add);
    return out;
  }

  /**
   * Checks the pod's security settings, and that every absolute path in a container's arguments,
   * environment and exec probes is either copied into the image or lies on a volume mounted in that
   * container: a secret's or config map's item, or a writable volume for what is written.
   */
  static void checkPod(JsonNode podSpec, Map<String, String> imageFiles) {
    JsonNode security = podSpec.path("securityContext");
    assertThat(security.path("runAsNonRoot").asBoolean()).isTrue();
    assertThat(security.path("runAsUser").asText() + ":" + security.path("runAsGroup").asText())
        .isEqualTo(USER);
    Map<String, JsonNode> volumes = new HashMap<>();
    podSpec.path("volumes").forEach(v -> volumes.put(v.path("name").asText(), v));
    for (JsonNode c : containers(podSpec)) {
      String name = c.path("name").asText();
      JsonNode sc = c.path("securityContext");
      assertThat(sc.path("readOnlyRootFilesystem").asBoolean()).as(name).isTrue();
      assertThat(sc.path("allowPrivilegeEscalation").asBoolean(true)).as(name).isFalse();
      List<String> mounts = new ArrayList<>();
      c.path("volumeMounts")
          .forEach(
              m -> {
                assertThat(volumes)
                    .as("%s mounts %s", name, m)
                    .containsKey(m.path("name").asText());
                mounts.add(m.path("mountPath").asText());
              });
      assertThat(mounts).as("%s: /tmp is a volume", name).contains("/tmp");
      if (c.has("command") && c.path("command").get(0).asText().equals("sh")) {
        continue; // a shell line (the init container); its paths are the mounts themselves
      }
      List<String[]> paths = new ArrayList<>(); // {flag or "", path}
      List<JsonNode> lists = new ArrayList<>(List.of(c.path("command"), c.path("args")));
      for (String probe : List.of("livenessProbe", "readinessProbe", "startupProbe")) {
        lists.add(c.path(probe).path("exec").path("command"));
      }
      for (JsonNode list : lists) {
        String flag = "";
        for (JsonNode a : list) {
          String arg = a.asText();
          String value = arg;
          if (arg.startsWith("--") && arg.contains("=")) {
            flag = arg.substring(0, arg.indexOf('='));
            value = arg.substring(arg.indexOf('=') + 1);
          } else if (arg.startsWith("--")) {
            flag = arg;
            continue;
          }
          for (String word : value.trim().split("\\s+", -1)) {
            if (word.startsWith("/")) {
              paths.add(new String[] {flag, word});
            }
          }
          flag = "";
        }
      }
      c.path("env")
          .forEach(
              e -> {
                if (e.path("value").asText().startsWith("/")) {
                  paths.add(new String[] {"", e.path("value").asText()});
                }
              });
      for (String[] fp : paths) {
        checkPath(name, fp[0], fp[1], c, volumes, imageFiles);
      }
    }
  }

  static void checkPath(
      String container,
      String flag,
      String path,
      JsonNode c,
      Map<String, JsonNode> volumes,
      Map<String, String> imageFiles) {
    if (imageFiles.containsKey(path)) {
      return;
    }
    for (JsonNode m : c.path("volumeMounts")) {
      String mount = m.path("mountPath").asText();
      if (!path.equals(mount) && !path.startsWith(mount + "/")) {
        continue;
      }
      JsonNode volume = volumes.get(m.path("name").asText());
      String rest = path.equals(mount) ? "" : path.substring(mount.length() + 1);
      if (WRITTEN.contains(flag) || (path.equals(mount) && !volume.has("secret"))) {
        assertThat(m.path("readOnly").asBoolean())
            .as("%s: %s %s is written, its mount is not read-only", container, flag, path)
            .isFalse();
        assertThat(volume.has("emptyDir") || volume.has("persistentVolumeClaim"))
            .as("%s: %s %s is on a writable volume", container, flag, path)
            .isTrue();
        return;
      }
      JsonNode items =
          volume.has("secret")
              ? volume.path("secret").path("items")
              : volume.path("configMap").path("items");
      if (volume.has("secret")) {
        assertThat(items.isArray()).as("%s: secret %s lists its items", container, volume).isTrue();
      }
      if (items.isArray()) {
        List<String> itemPaths = new ArrayList<>();
        items.forEach(i -> itemPaths.add(i.path("path").asText()));
        assertThat(itemPaths)
            .as("%s: %s %s is an item of its volume", container, flag, path)
            .contains(rest);
      }
      return;
    }
    throw new AssertionError(
        container + ": " + flag + " " + path + " is neither mounted nor copied into the image");
  }

  /** $(VAR) in arguments, from the container's env (fieldRef metadata.name: a pod name). */
  static List<String> expand(JsonNode container, JsonNode args) {
    Map<String, String> env = new HashMap<>();
    container
        .path("env")
        .forEach(
            e ->
                env.put(
                    e.path("name").asText(),
                    e.has("value") ? e.path("value").asText() : "configsync-cp-0"));
    List<String> out = new ArrayList<>();
    args.forEach(
        a -> {
          Matcher m = Pattern.compile("\\$\\((\\w+)\\)").matcher(a.asText());
          StringBuilder sb = new StringBuilder();
          while (m.find()) {
            assertThat(env).as("$(%s) is set", m.group(1)).containsKey(m.group(1));
            m.appendReplacement(sb, Matcher.quoteReplacement(env.get(m.group(1))));
          }
          m.appendTail(sb);
          out.add(sb.toString());
        });
    return out;
  }

  @Test
  void theControlPlaneManifestRunsTwoReplicasOnEtcdWithArgumentsTheJarAccepts() throws Exception {
    List<JsonNode> docs = manifest("control-plane.yaml");
    JsonNode set = kind(docs, "StatefulSet");
    assertThat(set.path("spec").path("replicas").asInt()).isEqualTo(2);
    assertThat(kind(docs, "PodDisruptionBudget").path("spec").path("minAvailable").asInt())
        .isEqualTo(1);
    JsonNode pod = set.path("spec").path("template").path("spec");
    checkPod(pod, imageFiles());
    JsonNode cp = pod.path("containers").get(0);
    assertThat(cp.path("image").asText()).startsWith("configsync-cp:");
    assertThat(cp.path("resources").path("limits").path("memory").asText()).isNotEmpty();
    assertThat(cp.path("readinessProbe").isObject()).isTrue();
    assertThat(cp.path("livenessProbe").isObject()).isTrue();
    List<String> args = expand(cp, cp.path("args"));
    assertThat(args)
        .contains("--replica-name=configsync-cp-0")
        .anyMatch(a -> a.startsWith("--etcd-endpoint="));

    // Each Service's target port is a port of the container.
    List<String> ports = new ArrayList<>();
    cp.path("ports").forEach(p -> ports.add(p.path("name").asText()));
    docs.stream()
        .filter(d -> d.path("kind").asText().equals("Service"))
        .forEach(
            s ->
                s.path("spec")
                    .path("ports")
                    .forEach(
                        p -> {
                          String target = p.path("targetPort").asText(p.path("name").asText());
                          assertThat(ports)
                              .as("Service %s", s.path("metadata").path("name"))
                              .contains(target);
                        }));
    assertThat(docs)
        .anyMatch(
            d ->
                d.path("kind").asText().equals("Service")
                    && d.path("spec").path("ports").get(0).path("port").asInt() == 8005
                    && !d.path("spec").path("clusterIP").asText().equals("None"));

    Path scratch = processes.dir("cp-manifest");
    assertStoppedAtABadFile(
        runWithBadFiles("cp-manifest", "configsync-cp.Dockerfile", args, scratch), scratch);
  }

  @Test
  void theNginxManifestRunsTheAgentWithArgumentsItAcceptsAndSharesNginxsPrefix() throws Exception {
    List<JsonNode> docs = manifest("nginx-agent.yaml");
    JsonNode pod = kind(docs, "Deployment").path("spec").path("template").path("spec");
    assertThat(pod.path("shareProcessNamespace").asBoolean())
        .as("render.sh's `nginx -s reload` signals the nginx container's master")
        .isTrue();
    checkPod(pod, imageFiles());
    JsonNode agent = null;
    JsonNode nginx = null;
    for (JsonNode c : pod.path("containers")) {
      if (c.path("name").asText().equals("configsync-agent")) {
        agent = c;
      } else if (c.path("name").asText().equals("nginx")) {
        nginx = c;
      }
    }
    assertThat(agent).isNotNull();
    assertThat(nginx).isNotNull();

    // render.sh works on NGINX_PREFIX: the agent's container must see it where nginx runs from.
    String prefix = null;
    for (JsonNode e : agent.path("env")) {
      if (e.path("name").asText().equals("NGINX_PREFIX")) {
        prefix = e.path("value").asText();
      }
    }
    assertThat(prefix).isNotNull();
    List<String> nginxCommand = new ArrayList<>();
    nginx.path("command").forEach(n -> nginxCommand.add(n.asText()));
    assertThat(nginxCommand).containsSequence("-p", prefix);
    assertThat(mountedVolume(agent, prefix)).isEqualTo(mountedVolume(nginx, prefix)).isNotNull();
    // nginx's configuration: in the foreground, its pid where `nginx -s reload` reads it.
    String conf = kind(docs, "ConfigMap").path("data").path("nginx.conf").asText();
    assertThat(conf)
        .contains("daemon off;")
        .contains("pid logs/nginx.pid;")
        .contains("include routes.conf;");

    List<String> args = expand(agent, agent.path("args"));
    assertThat(args.get(0)).isEqualTo("run");
    assertThat(args).contains("--on-change=sh /opt/configsync/examples/nginx/render.sh");
    Path scratch = processes.dir("agent-manifest");
    assertStoppedAtABadFile(
        runWithBadFiles("agent-manifest", "configsync-agent.Dockerfile", args, scratch), scratch);

    List<String> probe = new ArrayList<>();
    agent.path("livenessProbe").path("exec").path("command").forEach(n -> probe.add(n.asText()));
    RunningProcess status = runAgentProbe("agent-manifest-probe", probe);
    assertThat(status.awaitExit(Duration.ofMinutes(2))).as(status.stderrText()).isEqualTo(1);
    assertThat(status.stdoutText()).contains("\"running\":false");
  }

  static String mountedVolume(JsonNode container, String path) {
    for (JsonNode m : container.path("volumeMounts")) {
      if (m.path("mountPath").asText().equals(path)) {
        return m.path("name").asText();
      }
    }
    return null;
  }

  /**
   * The control plane image's health check (deploy/docker/cp-healthcheck, bash without curl)
   * against a real configsync-cp: healthy with the token, unhealthy with a wrong one or none
   * listening.
   */
  @Test
  void theControlPlaneHealthCheckAsksGetStatusWithTheToken() throws Exception {
    PkiFiles pki = PkiFiles.create("deploy", processes.dir("pki"));
    ControlPlaneProcess cp = ControlPlaneProcess.start(processes, pki, "cp", List.of());
    Path token = processes.dir("cp").resolve("admin.token");
    assertThat(healthCheck("good", cp.adminPort(), token)).isZero();

    Path wrong =
        Files.writeString(processes.dir("wrong").resolve("token"), "not-the-token-at-all\n");
    assertThat(healthCheck("wrong", cp.adminPort(), wrong)).isEqualTo(1);
    assertThat(cp.stop()).isZero();
    assertThat(healthCheck("down", cp.adminPort(), token)).isNotZero();
  }

  private int healthCheck(String name, int port, Path token) {
    RunningProcess p =
        processes.exec(
            "healthcheck-" + name,
            List.of(
                "env",
                "CONFIGSYNC_ADMIN_PORT=" + port,
                "CONFIGSYNC_ADMIN_TOKEN_FILE=" + token,
                DEPLOY.resolve("docker/cp-healthcheck").toString()));
    int status = p.awaitExit(Duration.ofMinutes(1));
    if (status != 0) {
      System.err.println("cp-healthcheck (" + name + "): " + p.stderrText());
    }
    return status;
  }
}
