package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.internal.Gzip;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.atomic.AtomicInteger;
import java.util.concurrent.atomic.AtomicLong;

/**
 * "fan-out: N nodes, one publish": N nodes ({@link MiniNode}s over the real OkHttp transport and
 * mutual TLS) connected to one control plane; the time from {@code publish(JsonNode)} of a 1 MB
 * configuration until the control plane lists every node as reporting the new hash.
 *
 * <p>Floor: one gzip of the configuration's JSON, then its bytes written once to each of N loopback
 * TLS connections (one writer thread per core) until every reader has received them and, as the
 * nodes do, inflated and scanned them. The floor ("one gzip + N raw TLS writes") leaves the
 * readers' decode out; here the nodes share the control plane's two cores, so their decode (several
 * milliseconds of CPU each, seconds for 1,000 nodes) is in ours whatever the control plane does,
 * and the floor carries the same work so that the ratio measures the control plane.
 */
final class FanOut implements Measurement {
  static final int CONFIG_BYTES = 1 << 20;

  @Override
  public String name() {
    return "fanout";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    for (int n : mode.fleetSizes()) {
      rows.add(run(mode, n));
    }
    return rows;
  }

  /**
   * Waits until all {@code nodes} have decoded the configuration of {@code hash} ({@code applied}
   * counts them) and the control plane lists them on it; fails when a node failed.
   */
  static void awaitAll(
      ControlPlaneServer cp, List<MiniNode> nodes, AtomicInteger applied, String hash) {
    int n = nodes.size();
    CpRig.await(
        "all nodes to decode " + hash,
        Duration.ofMinutes(5),
        () -> applied.get() >= n || MiniNode.anyFailed(nodes));
    CpRig.await(
        "the control plane to list all nodes on " + hash,
        Duration.ofMinutes(1),
        () -> CpRig.nodesOn(cp, hash) == n || MiniNode.anyFailed(nodes));
    for (MiniNode node : nodes) {
      if (node.failure() != null) {
        throw new IllegalStateException(
            "a node failed; the nodes: " + MiniNode.describe(nodes, hash), node.failure());
      }
    }
  }

  private static Result run(Mode mode, int n) throws Exception {
    TestPki pki = TestPki.create();
    CpRig.CapturingStore store = new CpRig.CapturingStore();
    AtomicInteger applied = new AtomicInteger();
    AtomicLong decodeNanos = new AtomicLong();
    Semaphore handshakes = new Semaphore(64);
    List<MiniNode> nodes = new ArrayList<>();
    OkHttpTransport transport = OkHttpTransport.create(pki.dataPlaneTls());
    try (ControlPlaneServer cp = CpRig.startControlPlane(pki, 0, store, 64L << 20);
        TlsPairs floorPairs = new TlsPairs(pki, n)) {
      for (int i = 0; i < n; i++) {
        handshakes.acquire();
        MiniNode node =
            new MiniNode(
                open -> handshakes.release(), done -> applied.incrementAndGet(), decodeNanos);
        nodes.add(node);
        node.connect(transport, CpRig.uri(cp));
      }
      CpRig.await(n + " nodes to connect", Duration.ofMinutes(2), () -> CpRig.connected(cp) == n);
      List<Double> ours = new ArrayList<>();
      List<Double> calls = new ArrayList<>();
      List<Double> floors = new ArrayList<>();
      List<Double> plainFloors = new ArrayList<>();
      List<Double> decodes = new ArrayList<>();
      int frameBytes = 0;
      int savesBefore = store.saves();
      int publishes = 0;
      for (int rep = -1; rep < mode.repetitions(); rep++) {
        JsonNode config = CpRig.config(1000 + rep, CONFIG_BYTES);
        byte[] json = CpRig.MAPPER.writeValueAsBytes(config);
        applied.set(0);
        decodeNanos.set(0);
        System.gc();
        long t0 = System.nanoTime();
        PublishResult published = cp.publish(config);
        long t1 = System.nanoTime();
        publishes++;
        String hash = published.hash();
        awaitAll(cp, nodes, applied, hash);
        long t2 = System.nanoTime();
        frameBytes = store.last().length;
        System.gc();
        long f0 = System.nanoTime();
        byte[] gz = Gzip.compress(json);
        floorPairs.sendToAllAndDecode(gz);
        long f1 = System.nanoTime();
        // The floor as written, without the readers' decode, for the note.
        long p0 = System.nanoTime();
        floorPairs.sendToAll(Gzip.compress(json));
        long p1 = System.nanoTime();
        if (rep >= 0) {
          ours.add(CpRig.millis(t2 - t0));
          calls.add(CpRig.millis(t1 - t0));
          floors.add(CpRig.millis(f1 - f0));
          plainFloors.add(CpRig.millis(p1 - p0));
          decodes.add(CpRig.millis(decodeNanos.get()));
        }
      }
      int gzips = store.saves() - savesBefore;
      if (gzips != publishes) {
        throw new IllegalStateException(
            publishes + " publishes saved " + gzips + " frames; expected one each");
      }
      double oursMs = CpRig.median(ours);
      double floor = CpRig.median(floors);
      return Result.relative(
          "fan-out: N nodes, one publish",
          n + " nodes",
          "1 gzip + N raw TLS writes, each reader inflates + scans",
          floor,
          oursMs,
          "ms",
          2,
          String.format(
              Locale.ROOT,
              "1 MB JSON, frame %s gzip; ours = publish() call %s ms + until the control plane"
                  + " lists all %d nodes on the new hash; the nodes' own decode (gunzip + JSON"
                  + " scan, same JVM, same 2 cores) took %s ms of CPU in all; %d publishes, %d"
                  + " frames encoded and stored (one each), bytes shared by every connection;"
                  + " the issue's floor without the readers' decode (1 gzip + N TLS writes) was %s"
                  + " ms, ours / that = %s; median of %d",
              CpRig.size(frameBytes),
              CpRig.fmt(CpRig.median(calls)),
              n,
              CpRig.fmt(CpRig.median(decodes)),
              publishes,
              gzips,
              CpRig.fmt(CpRig.median(plainFloors)),
              CpRig.fmt(oursMs / CpRig.median(plainFloors)),
              mode.repetitions()));
    } finally {
      for (MiniNode node : nodes) {
        node.cancel();
      }
      transport.close();
    }
  }
}
