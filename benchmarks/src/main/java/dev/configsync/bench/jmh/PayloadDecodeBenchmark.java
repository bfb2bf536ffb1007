package dev.configsync.bench.jmh;

import com.fasterxml.jackson.databind.JsonNode;
import com.fasterxml.jackson.databind.ObjectMapper;
import dev.configsync.BenchmarkAccess;
import dev.configsync.ConfigSnapshot;
import dev.configsync.bench.ConfigGenerator;
import dev.configsync.internal.HybridProtocol;
import dev.configsync.internal.Json;
import java.io.ByteArrayInputStream;
import java.io.InputStream;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;
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

/**
 * Decoding a {@code reconfigure} frame into a verified snapshot (capped gunzip, strict parse into a
 * frozen tree, hash check) against gunzip and Jackson's {@code readTree} of the same frame.
 */
@State(Scope.Benchmark)
@BenchmarkMode(org.openjdk.jmh.annotations.Mode.AverageTime)
@OutputTimeUnit(TimeUnit.MILLISECONDS)
@Fork(
    value = 1,
    jvmArgsAppend = {"-Xms2g", "-Xmx2g"})
@Warmup(iterations = 3, time = 2)
@Measurement(iterations = 5, time = 2)
public class PayloadDecodeBenchmark {
  private static final ObjectMapper PLAIN = new ObjectMapper();

  /** Size of the configuration's JSON, in bytes. */
  @Param({"1048576"})
  public int size;

  private byte[] frame = new byte[0];

  /** Builds the frame as the control plane does. */
  @Setup
  public void setUp() throws Exception {
    frame = HybridProtocol.reconfigure(Json.readFrozen(ConfigGenerator.generate(1, size)), 0);
  }

  /** The floor. */
  @Benchmark
  public JsonNode gunzipAndReadTree() throws Exception {
    try (InputStream in = new GZIPInputStream(new ByteArrayInputStream(frame), 64 * 1024)) {
      return PLAIN.readTree(in);
    }
  }

  /** Ours. */
  @Benchmark
  public ConfigSnapshot decode() {
    return BenchmarkAccess.decode(frame);
  }
}
