package dev.configsync.agent;

import static java.nio.charset.StandardCharsets.UTF_8;
import static java.nio.file.StandardOpenOption.CREATE_NEW;
import static java.nio.file.StandardOpenOption.WRITE;

import com.fasterxml.jackson.core.JsonLocation;
import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import com.fasterxml.jackson.databind.node.ObjectNode;
import dev.configsync.ConfigFileException;
import dev.configsync.ConfigSyncClient;
import dev.configsync.License;
import dev.configsync.cache.YamlConfigFormat;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import dev.configsync.license.LicenseSigner;
import java.io.IOException;
import java.io.PrintStream;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.nio.file.attribute.PosixFilePermissions;
import java.security.KeyPair;
import java.security.PrivateKey;
import java.time.Clock;
import java.time.LocalDate;
import java.time.ZoneOffset;
import java.time.format.DateTimeParseException;
import java.util.HexFormat;
import java.util.Locale;
import java.util.Objects;
import java.util.Set;
import java.util.concurrent.Callable;
import java.util.concurrent.ThreadLocalRandom;
import java.util.regex.Pattern;
import org.jspecify.annotations.Nullable;
import picocli.CommandLine;
import picocli.CommandLine.Command;
import picocli.CommandLine.Model.CommandSpec;
import picocli.CommandLine.Option;
import picocli.CommandLine.ParameterException;
import picocli.CommandLine.Spec;

/**
 * {@code configsync-agent license}: the vendor's side of licensing, for operators who run their own
 * control plane. {@code keygen} makes an Ed25519 signing key pair; {@code issue} signs a license
 * (with {@link LicenseSigner}, exactly as nodes verify it) and can embed it in a configuration.
 */
@Command(
    name = "license",
    mixinStandardHelpOptions = true,
    version = ConfigSyncClient.VERSION,
    usageHelpAutoWidth = true,
    description = {
      "Makes license signing keys and signed licenses, for nodes run with 'run --license-key'.",
      "Exit status: 0 done, 1 unexpected failure (a file that cannot be written), 2 bad arguments."
    })
final class LicenseCommand implements Callable<Integer> {
  /** The private key's file name in {@code keygen --out}. */
  static final String SIGNING_KEY_FILE = "license-signing.key";

  /** The public key's file name in {@code keygen --out}. */
  static final String PUBLIC_KEY_FILE = "license-signing.pub";

  /** The largest configuration {@code issue --config} reads: the client's inflated-size cap. */
  static final long MAX_CONFIG_BYTES = ConfigSyncClient.DEFAULT_MAX_INFLATED_BYTES;

  private static final ObjectMapper JSON = new ObjectMapper();

  @Spec @Nullable CommandSpec spec;

  @Override
  public Integer call() {
    CommandSpec s = Objects.requireNonNull(spec, "spec");
    throw new ParameterException(s.commandLine(), "a license command is required: keygen or issue");
  }

  /** {@code license keygen --out DIR}. */
  @Command(
      name = "keygen",
      mixinStandardHelpOptions = true,
      version = ConfigSyncClient.VERSION,
      usageHelpAutoWidth = true,
      description = {
        "Makes a new Ed25519 key pair for signing licenses: DIR/"
            + SIGNING_KEY_FILE
            + " (private, PKCS#8 PEM, mode 0600: keep it secret) and DIR/"
            + PUBLIC_KEY_FILE
            + " (public, PEM: give it to every node, 'run --license-key')."
            + " Existing files are never overwritten.",
        "Prints {\"signing_key\":...,\"public_key\":...}.",
        "Exit status: 0 written, 1 cannot write, 2 bad arguments (a file exists already)."
      })
  static final class Keygen implements Callable<Integer> {
    @Option(
        names = "--out",
        required = true,
        paramLabel = "DIR",
        description = "Where to write the two files; created (mode 0700) if missing.")
    @Nullable Path outDir;

    private final PrintStream out;
    private final PrintStream err;

    Keygen(PrintStream out, PrintStream err) {
      this.out = out;
      this.err = err;
    }

    @Override
    public Integer call() {
      Path dir = Objects.requireNonNull(outDir, "--out").toAbsolutePath().normalize();
      Path keyFile = dir.resolve(SIGNING_KEY_FILE);
      Path pubFile = dir.resolve(PUBLIC_KEY_FILE);
      if (Files.exists(dir) && !Files.isDirectory(dir)) {
        return usage(err, "--out " + dir + " exists but is not a directory");
      }
      for (Path existing : new Path[] {keyFile, pubFile}) {
        if (Files.exists(existing)) {
          return usage(
              err,
              existing
                  + " already exists and is not overwritten (licenses signed with a lost key can"
                  + " no longer be renewed): move it away or choose another --out");
        }
      }
      KeyPair pair = LicenseSigner.generateKeyPair();
      try {
        if (!Files.isDirectory(dir)) {
          Files.createDirectories(dir, permissions(dir, "rwx------"));
        }
        writeNew(keyFile, LicenseSigner.privateKeyPem(pair.getPrivate()), "rw-------");
        try {
          writeNew(pubFile, LicenseSigner.publicKeyPem(pair.getPublic()), "rw-r--r--");
        } catch (IOException e) {
          Files.deleteIfExists(keyFile); // no private key without its public half
          throw e;
        }
      } catch (IOException e) {
        err.println(AgentMain.NAME + ": cannot write the key pair to " + dir + ": " + e);
        err.flush();
        return AgentMain.EXIT_FAILURE;
      }
      ObjectNode written = JSON.createObjectNode();
      written.put("signing_key", keyFile.toString());
      written.put("public_key", pubFile.toString());
      out.println(Incoming.line(written));
      out.flush();
      return AgentMain.EXIT_OK;
    }

    /**
     * Writes {@code text} to a new temporary file with {@code mode}, forces it to disk and moves it
     * to {@code target}, which must not exist.
     */
    private static void writeNew(Path target, String text, String mode) throws IOException {
      Path dir = Objects.requireNonNull(target.getParent(), "parent");
      Path temp =
          dir.resolve(
              "."
                  + target.getFileName()
                  + "."
                  + HexFormat.of().toHexDigits(ThreadLocalRandom.current().nextLong())
                  + ".tmp");
      boolean moved = false;
      try {
        try (FileChannel channel =
            FileChannel.open(temp, Set.of(CREATE_NEW, WRITE), permissions(dir, mode))) {
          ByteBuffer content = ByteBuffer.wrap(text.getBytes(UTF_8));
          while (content.hasRemaining()) {
            channel.write(content);
          }
          channel.force(true);
        }
        if (isPosix(dir)) {
          // The creation mode is filtered by the umask; set it exactly.
          Files.setPosixFilePermissions(temp, PosixFilePermissions.fromString(mode));
        }
        Files.move(temp, target); // fails if the target appeared meanwhile
        moved = true;
        // Make the new name durable too: a signing key lost in a crash after "written" is worse
        // than an error now.
        try (FileChannel directory = FileChannel.open(dir, java.nio.file.StandardOpenOption.READ)) {
          directory.force(true);
        }
      } finally {
        if (!moved) {
          Files.deleteIfExists(temp);
        }
      }
    }
  }

  /** {@code license issue ...}. */
  @Command(
      name = "issue",
      mixinStandardHelpOptions = true,
      version = ConfigSyncClient.VERSION,
      sortOptions = false,
      usageHelpAutoWidth = true,
      description = {
        "Signs a license with a key made by 'license keygen'.",
        "Prints the signed license document as one line of JSON; with --config, writes a copy of"
            + " that configuration with the license in its 'licenses' (replacing any) to --out, as"
            + " JSON, and prints {\"out\":...,\"hash\":...}.",
        "The license is valid up to and including the --expires day (UTC).",
        "Exit status: 0 done, 1 --out cannot be written, 2 bad arguments."
      })
  static final class Issue implements Callable<Integer> {
    @Option(
        names = "--signing-key",
        required = true,
        paramLabel = "FILE",
        description =
            "The Ed25519 private key, PEM (BEGIN PRIVATE KEY), as 'license keygen' writes.")
    @Nullable Path signingKey;

    @Option(
        names = "--customer",
        required = true,
        paramLabel = "NAME",
        description = "Who the license is for.")
    @Nullable String customer;

    @Option(
        names = "--license-key",
        required = true,
        paramLabel = "KEY",
        description = "The license key (an identifier of the license, not a cryptographic key).")
    @Nullable String licenseKey;

    @Option(
        names = "--expires",
        required = true,
        paramLabel = "YYYY-MM-DD",
        converter = DateConverter.class,
        description = "The last day the license is valid (UTC).")
    @Nullable LocalDate expires;

    @Option(
        names = "--created",
        paramLabel = "YYYY-MM-DD",
        converter = DateConverter.class,
        description = "The day the license is issued (default: today, UTC).")
    @Nullable LocalDate created;

    @Option(
        names = "--product",
        paramLabel = "NAME",
        defaultValue = "",
        description = "The product subscription (default: empty).")
    String product = "";

    @Option(
        names = "--dataplanes",
        paramLabel = "N",
        description = "How many data planes the license allows (default: left out).")
    @Nullable Integer dataplanes;

    @Option(
        names = "--config",
        paramLabel = "FILE",
        description = "A configuration, JSON or YAML (.yml, .yaml), to embed the license in.")
    @Nullable Path config;

    @Option(
        names = "--out",
        paramLabel = "FILE",
        description =
            "Where to write the licensed configuration (with --config), replaced atomically.")
    @Nullable Path outFile;

    private final PrintStream out;
    private final PrintStream err;
    private final Clock clock;

    Issue(PrintStream out, PrintStream err) {
      this(out, err, Clock.systemUTC());
    }

    Issue(PrintStream out, PrintStream err, Clock clock) {
      this.out = out;
      this.err = err;
      this.clock = clock;
    }

    @Override
    public Integer call() {
      Path keyFile = Objects.requireNonNull(signingKey, "--signing-key");
      String name = Objects.requireNonNull(customer, "--customer");
      String key = Objects.requireNonNull(licenseKey, "--license-key");
      LocalDate lastDay = Objects.requireNonNull(expires, "--expires");
      LocalDate today = LocalDate.now(clock.withZone(ZoneOffset.UTC));
      LocalDate firstDay = created != null ? created : today;
      Path configFile = config;
      Path target = outFile;
      if ((configFile == null) != (target == null)) {
        return usage(err, "--config and --out go together: give both, or neither");
      }
      if (name.isBlank()) {
        return usage(err, "--customer must not be blank");
      }
      if (key.isBlank()) {
        return usage(err, "--license-key must not be blank");
      }
      Integer allowed = dataplanes;
      if (allowed != null && allowed < 0) {
        return usage(err, "--dataplanes must not be negative, got: " + allowed);
      }
      if (lastDay.isBefore(firstDay)) {
        return usage(
            err,
            "--expires "
                + lastDay
                + " is before --created "
                + firstDay
                + (created == null ? " (today, UTC)" : "")
                + ": a license cannot expire before it is issued");
      }
      PrivateKey privateKey;
      try {
        privateKey = LicenseSigner.readPrivateKeyPem(Files.readString(keyFile));
      } catch (IOException e) {
        return usage(err, "--signing-key " + keyFile + " cannot be read: " + e);
      } catch (IllegalArgumentException e) {
        return usage(
            err,
            "--signing-key "
                + keyFile
                + " is not an Ed25519 private key (PEM, BEGIN PRIVATE KEY, as 'license keygen'"
                + " writes): "
                + e.getMessage());
      }
      ObjectNode document;
      try {
        License terms =
            new License(name, key, product, allowed == null ? -1 : allowed, firstDay, lastDay);
        document = new LicenseSigner(privateKey).sign(terms);
      } catch (IllegalArgumentException e) {
        return usage(err, "cannot issue the license: " + e.getMessage());
      }
      if (lastDay.isBefore(today)) {
        err.println(
            AgentMain.NAME
                + ": warning: --expires "
                + lastDay
                + " is in the past: nodes refuse to serve with this license");
        err.flush();
      }
      if (configFile == null || target == null) {
        out.println(Incoming.line(document));
        out.flush();
        return AgentMain.EXIT_OK;
      }
      return writeLicensed(configFile, target, document);
    }

    private int writeLicensed(Path configFile, Path target, ObjectNode document) {
      JsonNode table;
      try {
        table = readConfig(configFile);
      } catch (IllegalArgumentException e) {
        return usage(err, "--config " + e.getMessage());
      }
      if (!table.isObject()) {
        return usage(
            err,
            "--config "
                + configFile
                + ": a configuration must be an object, not "
                + table.getNodeType());
      }
      ObjectNode licensed = LicenseSigner.withLicense(table, document);
      OutputFile file;
      try {
        file = new OutputFile(target);
      } catch (IllegalArgumentException e) {
        return usage(err, "--out must name a file, got: " + target);
      }
      Path parent = file.path().getParent();
      if (parent == null || !Files.isDirectory(parent)) {
        return usage(err, "--out " + target + ": the directory " + parent + " does not exist");
      }
      try {
        file.write(licensed);
      } catch (IOException e) {
        err.println(AgentMain.NAME + ": cannot write --out " + file.path() + ": " + e);
        err.flush();
        return AgentMain.EXIT_FAILURE;
      }
      ObjectNode written = JSON.createObjectNode();
      written.put("out", file.path().toString());
      written.put("hash", ConfigHash.configHash(licensed));
      out.println(Incoming.line(written));
      out.flush();
      return AgentMain.EXIT_OK;
    }

    /**
     * Reads a JSON or YAML configuration.
     *
     * @throws IllegalArgumentException naming the file and the problem (with line and column)
     */
    private static JsonNode readConfig(Path file) {
      if (!Files.isRegularFile(file) || !Files.isReadable(file)) {
        throw new IllegalArgumentException(file + ": not a readable regular file");
      }
      String name = String.valueOf(file.getFileName()).toLowerCase(Locale.ROOT);
      try {
        if (name.endsWith(".yml") || name.endsWith(".yaml")) {
          return new YamlConfigFormat().read(file, MAX_CONFIG_BYTES);
        }
        if (Files.size(file) > MAX_CONFIG_BYTES) {
          throw new IllegalArgumentException(file + ": larger than " + MAX_CONFIG_BYTES + " bytes");
        }
        return Json.readFrozen(Files.readAllBytes(file));
      } catch (ConfigFileException e) {
        throw new IllegalArgumentException(e.getMessage(), e);
      } catch (JsonProcessingException e) {
        JsonLocation at = e.getLocation();
        throw new IllegalArgumentException(
            file
                + (at == null ? "" : ":" + at.getLineNr() + ":" + at.getColumnNr())
                + ": not valid JSON: "
                + e.getOriginalMessage(),
            e);
      } catch (IOException e) {
        throw new IllegalArgumentException(file + ": cannot be read: " + e, e);
      }
    }
  }

  /** Parses {@code YYYY-MM-DD} strictly; picocli names the option in its message. */
  static final class DateConverter implements CommandLine.ITypeConverter<LocalDate> {
    private static final Pattern DATE = Pattern.compile("[0-9]{4}-[0-9]{2}-[0-9]{2}");

    @Override
    public LocalDate convert(String text) {
      String t = text.trim();
      if (DATE.matcher(t).matches()) {
        try {
          return LocalDate.parse(t);
        } catch (DateTimeParseException e) {
          // reported below
        }
      }
      throw new CommandLine.TypeConversionException(
          "'" + text + "' is not a date: use YYYY-MM-DD, e.g. 2027-12-31");
    }
  }

  private static int usage(PrintStream err, String message) {
    err.println(AgentMain.NAME + ": " + message);
    err.flush();
    return AgentMain.EXIT_USAGE;
  }

  private static boolean isPosix(Path dir) {
    return dir.getFileSystem().supportedFileAttributeViews().contains("posix");
  }

  private static FileAttribute<?>[] permissions(Path dir, String mode) {
    if (!isPosix(dir)) {
      return new FileAttribute<?>[0];
    }
    return new FileAttribute<?>[] {
      PosixFilePermissions.asFileAttribute(PosixFilePermissions.fromString(mode))
    };
  }
}
