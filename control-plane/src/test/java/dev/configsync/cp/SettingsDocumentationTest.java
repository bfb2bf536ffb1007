package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;

import dev.configsync.ConfigSyncClient;
import java.lang.reflect.Method;
import java.lang.reflect.Modifier;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Arrays;
import java.util.Set;
import java.util.TreeSet;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import org.junit.jupiter.api.Test;

/**
 * The settings tables in the docs list exactly the builders' public settings, so the reference
 * cannot drift from the code: a new setting without a row, or a row for a removed one, fails here.
 */
class SettingsDocumentationTest {
  private static final Path DOCS = Path.of("..", "docs");
  // A table row's first cell: | `name(...)` | or | `a(...)` / `b(...)` |
  private static final Pattern ROW = Pattern.compile("^\\|([^|]*)\\|");
  private static final Pattern SETTING = Pattern.compile("`(\\w+)\\(");

  private static Set<String> settings(Class<?> builder, String... notSettings) {
    Set<String> skip = Set.of(notSettings);
    return Arrays.stream(builder.getDeclaredMethods())
        .filter(m -> Modifier.isPublic(m.getModifiers()) && !Modifier.isStatic(m.getModifiers()))
        .filter(m -> m.getReturnType() == builder)
        .map(Method::getName)
        .filter(n -> !skip.contains(n))
        .collect(Collectors.toCollection(TreeSet::new));
  }

  /** Setting names in the first column of the table under {@code heading} (to the next heading). */
  private static Set<String> documented(String file, String heading) throws Exception {
    String text = Files.readString(DOCS.resolve(file));
    int start = heading.isEmpty() ? 0 : text.indexOf(heading);
    assertThat(start).as("heading %s in %s", heading, file).isNotNegative();
    int end = text.indexOf("\n## ", start + 1);
    Set<String> names = new TreeSet<>();
    for (String line : text.substring(start, end < 0 ? text.length() : end).lines().toList()) {
      Matcher row = ROW.matcher(line);
      if (row.find()) {
        Matcher setting = SETTING.matcher(row.group(1));
        while (setting.find()) {
          names.add(setting.group(1));
        }
      }
    }
    return names;
  }

  @Test
  void configurationMdListsEveryClientSetting() throws Exception {
    Set<String> code = settings(ConfigSyncClient.Builder.class);
    assertThat(code).contains("controlPlane", "heartbeatInterval", "validator");
    assertThat(documented("configuration.md", "")).isEqualTo(code);
  }

  @Test
  void controlPlaneMdListsEveryServerSetting() throws Exception {
    Set<String> code = settings(ControlPlaneServer.Builder.class);
    assertThat(code).contains("tls", "listen", "heartbeatInterval");
    assertThat(documented("control-plane.md", "## Settings")).isEqualTo(code);
  }
}
