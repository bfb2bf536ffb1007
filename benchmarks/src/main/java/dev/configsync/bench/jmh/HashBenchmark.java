package dev.configsync.bench.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.bench.ConfigGenerator;
import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Json;
import java.security.MessageDigest;
import java.util.concurrent.TimeUnit;
import org.openjdk.jmh.annotations.Benchmark;
import org.openjdk.jmh.annotations.BenchmarkMode;
import org.openjdk.jmh.annotations.Fork;
import org.openjdk.jmh.annotations.Measurement;
import org.openjdk.jmh.annotations.OutputTimeUnit;
import org.openjdk.jmh.annotations.Param;
import org.openjdk.jmh.annotations.Scope;
import org.openjdk.jmh.annotations.Setup;
import org.openjdk.jmh.annotations.State;
import org.openjdk.jmh.annotations.Warmup;

/** Kong's configuration hash of a parsed table against MD5 of the table's JSON bytes. */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class HashBenchmark {
  /** Size of the configuration's JSON, in bytes. */
  @Param({"1048576"})
  public int size;

  private byte[] json = new byte[0];
  private JsonNode table = Json.WRITER.nullNode();

  /** Generates the configuration and parses it as the client does. */
  @Setup
  public void setUp() throws Exception {
    json = ConfigGenerator.generate(1, size);
    table = Json.readFrozen(json);
  }

  /** The floor. */
  @Benchmark
  public byte[] md5OfJson() throws Exception {
    return MessageDigest.getInstance("MD5").digest(json);
  }

  /** Ours. */
  @Benchmark
  public String configHash() {
    return ConfigHash.configHashes(table).config();
  }
}
