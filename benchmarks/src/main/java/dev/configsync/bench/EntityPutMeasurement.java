package dev.configsync.bench;

import dev.configsync.ConfigSyncClient;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.internal.Gzip;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.nio.charset.StandardCharsets;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

/**
 * Issue 17's goals for an entity edit through the control plane, over mutual TLS on 127.0.0.1:
 * {@code PUT /config/routes/{id}} on the admin API (one route changed) to the snapshot listener of
 * one real {@link ConfigSyncClient}, against the MD5 of the whole configuration's JSON (goal 3 x);
 * and the bytes of the binary message the node received for it, against 2 x the gzip of the
 * entity's JSON + 1 KiB. 16 MB configuration in quick and full mode.
 */
final class EntityPutMeasurement implements Measurement {
  static final double TIME_GOAL = 3.0;
  private static final long MAX_PAYLOAD = 256L << 20;
  private static final int PUTS_PER_REPETITION = 7;

  @Override
  public String name() {
    return "entity";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    int bytes = mode == Mode.SMOKE ? mode.configBytes().get(0) : 16 << 20;
    Workload w = Workload.of(bytes);
    DeltaWorkload d = DeltaWorkload.of(w.json());
    byte[] json = w.json();
    int n = mode.repetitions() * PUTS_PER_REPETITION;
    double floor = Floors.md5Millis(json, n);
    byte[][] entities = {
      CpRig.MAPPER.writeValueAsBytes(d.changed), CpRig.MAPPER.writeValueAsBytes(d.original)
    };
    int entityGzip = Gzip.compress(entities[0]).length;

    TestPki pki = TestPki.create();
    LinkedBlockingQueue<Arrival> arrivals = new LinkedBlockingQueue<>();
    CountingTransport transport = new CountingTransport(OkHttpTransport.create(pki.dataPlaneTls()));
    List<Double> ours = new ArrayList<>();
    List<Double> answers = new ArrayList<>();
    List<Double> wire = new ArrayList<>();
    int fullFrames = 0;
    try (ControlPlaneServer cp =
        CpRig.startWithAdmin(pki, CpRig.fileStore("entity", MAX_PAYLOAD), MAX_PAYLOAD)) {
      ConfigSyncClient client =
          CpRig.declarePlugins(ConfigSyncClient.builder())
              .controlPlane(CpRig.uri(cp))
              .transport(transport)
              .nodeHostname("bench-entity")
              .maxPayloadBytes(MAX_PAYLOAD)
              .maxInflatedBytes(1L << 30)
              .usageReporting(false)
              .onSnapshot(s -> arrivals.add(new Arrival(System.nanoTime(), s.hash())))
              .build();
      try {
        client.start();
        CpRig.await("the node to connect", Duration.ofSeconds(30), () -> CpRig.connected(cp) == 1);
        PublishResult base = cp.publish(new String(json, StandardCharsets.UTF_8));
        awaitHash(arrivals, base.hash());
        transport.drain();
        int next = 0;
        for (int i = -5; i < n; i++) { // the first five warm up
          System.gc();
          long t0 = System.nanoTime();
          String hash = CpRig.putEntity(cp, "routes", d.routeId, entities[next++ % 2]);
          long t1 = System.nanoTime();
          long at = awaitHash(arrivals, hash);
          List<Integer> sizes = transport.drain();
          long received = 0;
          for (int size : sizes) {
            received += size + CountingTransport.headerBytes(size);
          }
          if (i >= 0) {
            ours.add(CpRig.millis(at - t0));
            answers.add(CpRig.millis(t1 - t0));
            wire.add((double) received);
            if (received > 64 * 1024) {
              fullFrames++;
            }
          }
        }
      } finally {
        client.close();
      }
    }
    double oursMs = CpRig.median(ours);
    double wireBytes = CpRig.median(wire);
    double wireGoal = 2.0 * entityGzip + 1024;
    return List.of(
        Result.relative(
            "entity PUT -> listener (mTLS loopback)",
            w.describe(),
            "MD5 of the whole configuration's JSON",
            floor,
            oursMs,
            "ms",
            TIME_GOAL,
            String.format(
                Locale.ROOT,
                "control plane with a FileConfigStore (fsync); PUT /config/routes/{id} on the admin API"
                    + " (HTTP/1.1, loopback) to the node's"
                    + " onSnapshot, one route changed; the PUT's answer came after %s ms (the"
                    + " control plane's publish); %d of %d messages were whole frames; median of"
                    + " %d",
                CpRig.fmt(CpRig.median(answers)),
                fullFrames,
                n,
                n)),
        Result.absolute(
            "bytes on the wire for a one-entity change",
            w.describe(),
            wireBytes,
            "bytes",
            wireGoal,
            String.format(
                Locale.ROOT,
                "the binary message(s) the node received per PUT, WebSocket header included (TLS"
                    + " records add about 22 bytes per 16 KiB); goal 2 x %d (gzip of the entity's"
                    + " %d bytes of JSON) + 1024; median of %d",
                entityGzip,
                entities[0].length,
                n)));
  }

  private static long awaitHash(LinkedBlockingQueue<Arrival> arrivals, String hash)
      throws InterruptedException {
    long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
    while (true) {
      Arrival a = arrivals.poll(Math.max(1, deadline - System.nanoTime()), TimeUnit.NANOSECONDS);
      if (a == null) {
        throw new IllegalStateException("the node did not apply " + hash + " within 120 s");
      }
      if (a.hash.equals(hash)) {
        return a.nanos;
      }
    }
  }

  private record Arrival(long nanos, String hash) {}
}
