package dev.configsync.bench;

import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.nio.charset.StandardCharsets;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;
import java.util.concurrent.atomic.AtomicReference;

/**
 * "1,000 nodes, one-entity change" (issue 17): N {@link MiniNode}s that announce incremental sync,
 * on the 1 MB configuration of {@link FanOut}; from sending {@code PUT /config/routes/{id}} (one
 * route changed) until every node has received and decoded the change (inflated and parsed), where
 * the floor ends too: the floor is one way, and so is "ours". The note adds when the control plane
 * listed every node on the new hash: until each node has the pong that answers the ping with which
 * it reported the hash (the control plane records a ping before it answers it), then checked once
 * in {@link ControlPlaneServer#dataPlanes()}; polling that list every millisecond instead added up
 * to a millisecond and, at 1,000 nodes, a sort of the list per poll on the same two cores. Until
 * 2026-12-07 the row ended there, with the way back (a ping per node, each through the node's
 * writer thread, and the control plane's read and pong) inside "ours" and not in the floor. Floor:
 * the fan-out floor of the same frame, the {@code reconfigure_delta} message the nodes received,
 * written to N loopback TLS connections until every reader has it, inflated and scanned (as in
 * {@link FanOut}; no gzip in it: the frame is given). Goal 2 x. The largest fleet of the mode (100
 * nodes quick, 1,000 full); the median of 5 x the mode's repetitions (one change is short, and 3
 * were noisy).
 */
final class FanOutDelta implements Measurement {
  @Override
  public String name() {
    return "fanoutdelta";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    int n = mode.fleetSizes().get(mode.fleetSizes().size() - 1);
    byte[] json = ConfigGenerator.generate(1000, FanOut.CONFIG_BYTES);
    DeltaWorkload d = DeltaWorkload.of(json);
    byte[][] entities = {
      CpRig.MAPPER.writeValueAsBytes(d.changed), CpRig.MAPPER.writeValueAsBytes(d.original)
    };
    TestPki pki = TestPki.create();
    AtomicInteger applied = new AtomicInteger();
    AtomicInteger acknowledged = new AtomicInteger();
    AtomicLong allDecodedAt = new AtomicLong();
    AtomicLong allAcknowledgedAt = new AtomicLong();
    AtomicReference<CountDownLatch> allAcknowledged = new AtomicReference<>(new CountDownLatch(1));
    AtomicLong decodeNanos = new AtomicLong();
    Semaphore handshakes = new Semaphore(64);
    List<MiniNode> nodes = new ArrayList<>();
    OkHttpTransport transport = OkHttpTransport.create(pki.dataPlaneTls());
    List<Double> ours = new ArrayList<>();
    List<Double> floors = new ArrayList<>();
    List<Double> answers = new ArrayList<>();
    List<Double> decodedAll = new ArrayList<>();
    int polled = 0;
    int repetitions = 5 * mode.repetitions();
    int frameBytes = 0;
    int wholeFrames = 0;
    try (ControlPlaneServer cp =
            CpRig.startWithAdmin(pki, CpRig.fileStore("fanoutdelta", 64L << 20), 64L << 20);
        TlsPairs floorPairs = new TlsPairs(pki, n)) {
      // The base goes out as each node connects (a few dozen handshakes at a time), not to all of
      // them at once: sent to 1,000 nodes together, in a JVM that had not yet compiled their
      // decode, it reached the last of them after 40 to 50 s on two cores, and nodes starved for
      // that long missed the control plane's 45 s liveness limit (11 of 15 full runs on
      // 2026-12-07 lost nodes).
      PublishResult base = cp.publish(new String(json, StandardCharsets.UTF_8));
      for (int i = 0; i < n; i++) {
        handshakes.acquire();
        MiniNode node =
            new MiniNode(
                open -> handshakes.release(),
                done -> {
                  if (applied.incrementAndGet() == n) {
                    allDecodedAt.set(System.nanoTime());
                  }
                },
                decodeNanos,
                true,
                acked -> {
                  if (acknowledged.incrementAndGet() == n) {
                    allAcknowledgedAt.set(System.nanoTime());
                    java.util.Objects.requireNonNull(allAcknowledged.get()).countDown();
                  }
                });
        nodes.add(node);
        node.connect(transport, CpRig.uri(cp));
      }
      // The nodes' own count first, then the control plane's list (polling the list of 1,000
      // nodes every millisecond all along would take a core from the connections).
      FanOut.awaitAll(cp, nodes, applied, base.hash());
      int next = 0;
      for (int rep = -1; rep < repetitions; rep++) {
        applied.set(0);
        acknowledged.set(0);
        CountDownLatch acks = new CountDownLatch(1);
        allAcknowledged.set(acks);
        System.gc();
        long t0 = System.nanoTime();
        String hash = CpRig.putEntity(cp, "routes", d.routeId, entities[next++ % 2]);
        long t1 = System.nanoTime();
        if (!acks.await(5, TimeUnit.MINUTES)) {
          throw new IllegalStateException("timed out waiting for every node to report " + hash);
        }
        long t2 = allAcknowledgedAt.get();
        if (CpRig.nodesOn(cp, hash) != n) {
          // A heartbeat's pong came after a node's report: wait for the list itself.
          polled++;
          FanOut.awaitAll(cp, nodes, applied, hash);
          t2 = System.nanoTime();
        }
        for (MiniNode node : nodes) {
          if (node.failure() != null) {
            throw new IllegalStateException("a node failed", node.failure());
          }
        }
        byte[] frame = nodes.get(0).lastPayload();
        if (frame == null) {
          throw new IllegalStateException("no frame received");
        }
        frameBytes = frame.length;
        if (frame.length > 64 * 1024) {
          wholeFrames++;
        }
        System.gc();
        long f0 = System.nanoTime();
        floorPairs.sendToAllAndDecode(frame);
        long f1 = System.nanoTime();
        if (rep >= 0) {
          ours.add(CpRig.millis(t2 - t0));
          answers.add(CpRig.millis(t1 - t0));
          decodedAll.add(CpRig.millis(allDecodedAt.get() - t0));
          floors.add(CpRig.millis(f1 - f0));
        }
      }
    } finally {
      for (MiniNode node : nodes) {
        node.cancel();
      }
      transport.close();
    }
    return List.of(
        Result.relative(
            "fan-out: N nodes, one-entity change",
            n + " nodes",
            "N raw TLS writes of the same frame, each reader inflates + scans",
            CpRig.median(floors),
            CpRig.median(decodedAll),
            "ms",
            2,
            String.format(
                Locale.ROOT,
                "1 MB configuration, control plane with a FileConfigStore (fsync); PUT"
                    + " /config/routes/{id} sent -> every node has decoded the change (the floor"
                    + " ends there too); the PUT's answer after %s ms; the control plane listed"
                    + " all %d nodes on the new hash after %s ms (%s x the floor; each node's"
                    + " pong to its report, %d of %d checked by polling the list); frame %d bytes"
                    + " (%d of %d publishes sent whole frames); median of %d; load average %s",
                CpRig.fmt(CpRig.median(answers)),
                n,
                CpRig.fmt(CpRig.median(ours)),
                String.format(Locale.ROOT, "%.2f", CpRig.median(ours) / CpRig.median(floors)),
                polled,
                repetitions + 1,
                frameBytes,
                wholeFrames,
                repetitions + 1,
                repetitions,
                SizingMeasurement.loadAverage())));
  }
}
