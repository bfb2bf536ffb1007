package dev.configsync.bench;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.testkit.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.nio.file.StandardOpenOption;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Collections;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * "Small changes stay immediate" (issue 17): the shipped agent as a process (through {@code
 * bin/configsync-agent}, as the sizing row starts it) connected over mutual TLS on 127.0.0.1 to a
 * control plane in this process, a 1 KB configuration; the time from sending {@code PUT
 * /config/routes/{id}} (one route changed) to the agent's {@code snapshot_applied} line on its
 * stdout, read here as it is written. The 99th percentile over 100 publishes, after {@value
 * #WARM_UP} that are not counted (fewer in smoke mode): both the control plane's edit path and the
 * agent's apply path must run compiled code, as they do in a process that has been running a while
 * (with 20, the median was 6 to 7 ms; with 1,000, 2 to 4 ms, in paired runs under load), against
 * the absolute goal of 5 ms. The request goes through {@link RawAdminClient} (written whole in one
 * call on this thread, the clock started just before), not the JDK's {@code HttpClient}, whose own
 * hand-offs and split writes were inside the measured time. Each edit is sent once the control
 * plane lists the agent on the one before (the agent at rest).
 */
final class AgentEntityLatency implements Measurement {
  static final double GOAL_MILLIS = 5;

  /** Publishes sent and not counted before the measured ones. */
  static final int WARM_UP = 1000;

  private static final int CONFIG_BYTES = 1024;

  @Override
  public String name() {
    return "agentput";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    int publishes = mode == Mode.SMOKE ? 10 : 100;
    int warmUp = mode == Mode.SMOKE ? 20 : WARM_UP;
    Path root = SizingMeasurement.repositoryRoot();
    byte[] json = ConfigGenerator.generate(7, CONFIG_BYTES);
    DeltaWorkload d = DeltaWorkload.of(json);
    byte[][] entities = {
      CpRig.MAPPER.writeValueAsBytes(d.changed), CpRig.MAPPER.writeValueAsBytes(d.original)
    };
    TestPki pki = TestPki.create();
    Path dir = Floors.tempDirectory("agentput");
    LinkedBlockingQueue<Applied> applied = new LinkedBlockingQueue<>();
    List<Double> times = new ArrayList<>();
    List<Double> syncs;
    int deltas = 0;
    try (ControlPlaneServer cp =
        CpRig.startWithAdmin(pki, CpRig.fileStore("agentput", 1L << 20), 1L << 20)) {
      Process agent =
          SizingMeasurement.agentProcess(
                  root, pki, SizingMeasurement.Candidate.shipped(), cp, dir, dir.resolve("gc.log"))
              .redirectOutput(ProcessBuilder.Redirect.PIPE)
              .start();
      Thread reader =
          new Thread(
              () -> {
                try (BufferedReader lines =
                    new BufferedReader(
                        new InputStreamReader(agent.getInputStream(), StandardCharsets.UTF_8))) {
                  for (String line = lines.readLine(); line != null; line = lines.readLine()) {
                    long at = System.nanoTime();
                    if (line.contains("\"snapshot_applied\"")) {
                      var event = CpRig.MAPPER.readTree(line);
                      applied.add(
                          new Applied(
                              at, event.path("hash").asText(), event.path("delta").asBoolean()));
                    }
                  }
                } catch (IOException e) {
                  // the agent stopped
                }
              },
              "bench-agent-stdout");
      reader.setDaemon(true);
      reader.start();
      try {
        CpRig.await(
            "the agent to connect (see " + dir.resolve("agent.err") + ")",
            Duration.ofSeconds(60),
            () -> CpRig.connected(cp) == 1 || !agent.isAlive());
        PublishResult base = cp.publish(new String(json, StandardCharsets.UTF_8));
        await(applied, base.hash(), agent);
        try (RawAdminClient admin =
            new RawAdminClient(
                cp.adminAddress().orElseThrow(() -> new IllegalStateException("no admin API")))) {
          byte[][] requests = {
            admin.put("routes", d.routeId, entities[0]), admin.put("routes", d.routeId, entities[1])
          };
          int next = 0;
          for (int i = -warmUp; i < publishes; i++) { // the first ones warm up
            byte[] request = requests[next++ % 2];
            long t0 = System.nanoTime();
            String hash = CpRig.MAPPER.readTree(admin.send(request)).path("hash").asText();
            Applied a = await(applied, hash, agent);
            if (i >= 0) {
              times.add(CpRig.millis(a.nanos - t0));
              if (a.delta) {
                deltas++;
              }
            }
            // The next edit starts from rest: once the control plane has heard the agent report
            // this one. The agent pings after it has written its output file (two fsyncs, after
            // the line), and a node that takes changes has one change in flight at a time, so an
            // edit sent on the line waited for that ping: the previous edit's output, not its own.
            CpRig.await(
                "the control plane to list the agent on " + hash,
                Duration.ofSeconds(60),
                () -> CpRig.nodesOn(cp, hash) == 1);
          }
        }
      } finally {
        agent.destroy();
        if (!agent.waitFor(30, TimeUnit.SECONDS)) {
          agent.destroyForcibly().waitFor();
        }
      }
      syncs = twoSyncs(dir, warmUp / 10, publishes);
    } finally {
      Floors.deleteQuietly(dir);
    }
    double p99 = CpRig.percentile99(times);
    return List.of(
        Result.absolute(
            "entity PUT -> agent snapshot_applied, p99",
            "1 KB config, " + publishes + " publishes",
            p99,
            "ms",
            GOAL_MILLIS,
            String.format(
                Locale.ROOT,
                "control plane with a FileConfigStore (fsync); the shipped agent (bin/configsync-agent,"
                    + " launcher defaults) as a process, mTLS"
                    + " loopback; PUT /config/routes/{id} written (one write, keep-alive) -> its"
                    + " snapshot_applied line read from its stdout, each once the agent has"
                    + " reported the one before; p50 %s ms, max %s ms; %d of %d came as deltas;"
                    + " the write-ahead alone on this disk (two appends of 600 bytes, each"
                    + " fdatasynced, one after the other, in the same directory, %d times): p50 %s,"
                    + " p99 %s ms; load average %s",
                CpRig.fmt(CpRig.median(times)),
                CpRig.fmt(Collections.max(times)),
                deltas,
                times.size(),
                syncs.size(),
                CpRig.fmt(CpRig.median(syncs)),
                CpRig.fmt(CpRig.percentile99(syncs)),
                SizingMeasurement.loadAverage())));
  }

  /**
   * What the two write-aheads in series cost on this disk, without anything of ours: the control
   * plane's journal append made durable before the change is sent, then the node's before it is
   * applied. Times {@code count} pairs of appends (each {@code force(false)}: an fdatasync) to two
   * files, after {@code warmUp} pairs.
   */
  private static List<Double> twoSyncs(Path dir, int warmUp, int count) throws IOException {
    byte[] record = new byte[600];
    List<Double> times = new ArrayList<>();
    try (FileChannel first = appendTo(dir.resolve("sync-floor-1"));
        FileChannel second = appendTo(dir.resolve("sync-floor-2"))) {
      for (int i = -warmUp; i < count; i++) {
        long t0 = System.nanoTime();
        first.write(ByteBuffer.wrap(record));
        first.force(false);
        second.write(ByteBuffer.wrap(record));
        second.force(false);
        if (i >= 0) {
          times.add(CpRig.millis(System.nanoTime() - t0));
        }
      }
    }
    return times;
  }

  private static FileChannel appendTo(Path file) throws IOException {
    return FileChannel.open(
        file, StandardOpenOption.CREATE, StandardOpenOption.WRITE, StandardOpenOption.APPEND);
  }

  private static Applied await(LinkedBlockingQueue<Applied> applied, String hash, Process agent)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(60);
    while (true) {
      Applied a = applied.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (a == null) {
        throw new IllegalStateException(
            "the agent did not apply " + hash + " within 60 s (alive: " + agent.isAlive() + ")");
      }
      if (a.hash.equals(hash)) {
        return a;
      }
    }
  }

  private record Applied(long nanos, String hash, boolean delta) {}
}
