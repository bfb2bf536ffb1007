package dev.configsync.bench;

import com.fasterxml.jackson.databind.JsonNode;
import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.cp.ControlPlaneServer;
import dev.configsync.cp.PublishResult;
import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.InputStream;
import java.time.Duration;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.ArrayBlockingQueue;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.zip.GZIPInputStream;

/**
 * "publish -> listener (mTLS loopback)": one real control plane and one real {@link
 * ConfigSyncClient} over mutual TLS on 127.0.0.1; the time from the control plane's {@code
 * publish(JsonNode)} call to the node's {@code onSnapshot} listener, per configuration size.
 *
 * <p>Floor: what any push of these bytes costs at least, measured on the very frame the control
 * plane produced: gunzip and a Jackson {@code readTree} of it (the apply floor), plus a raw TLS
 * transfer of its bytes over loopback with the same PKI (write start to last byte read).
 */
final class PublishToListener implements Measurement {
  private static final long MAX_PAYLOAD = 256L << 20;

  @Override
  public String name() {
    return "publish";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    TestPki pki = TestPki.create();
    CpRig.CapturingStore store = new CpRig.CapturingStore();
    List<Result> rows = new ArrayList<>();
    BlockingQueue<Arrival> arrivals = new ArrayBlockingQueue<>(16);
    try (ControlPlaneServer cp = CpRig.startControlPlane(pki, 0, store, MAX_PAYLOAD);
        TlsPairs tls = new TlsPairs(pki, 1)) {
      ConfigSyncClient client =
          CpRig.declarePlugins(ConfigSyncClient.builder())
              .controlPlane(CpRig.uri(cp))
              .transport(OkHttpTransport.create(pki.dataPlaneTls()))
              .nodeHostname("bench-publish")
              .maxPayloadBytes(MAX_PAYLOAD)
              .maxInflatedBytes(1L << 30)
              .usageReporting(false)
              .onSnapshot(s -> arrivals.add(new Arrival(System.nanoTime(), s)))
              .build();
      try {
        client.start();
        CpRig.await("the node to connect", Duration.ofSeconds(30), () -> CpRig.connected(cp) == 1);
        long seed = 1;
        for (int bytes : mode.configBytes()) {
          List<Double> ours = new ArrayList<>();
          List<Double> call = new ArrayList<>();
          List<Double> delivery = new ArrayList<>();
          List<Double> applyFloor = new ArrayList<>();
          List<Double> tlsFloor = new ArrayList<>();
          int frameBytes = 0;
          int jsonBytes = 0;
          for (int rep = -1; rep < mode.repetitions(); rep++) { // rep -1: warm-up
            JsonNode config = CpRig.config(seed++, bytes);
            jsonBytes = CpRig.MAPPER.writeValueAsBytes(config).length;
            System.gc();
            long t0 = System.nanoTime();
            PublishResult published = cp.publish(config);
            long t1 = System.nanoTime();
            Arrival arrival = arrivals.poll(120, TimeUnit.SECONDS);
            if (arrival == null || !arrival.snapshot.hash().equals(published.hash())) {
              throw new IllegalStateException(
                  "the node did not apply " + published.hash() + " within 120 s");
            }
            byte[] frame = store.last();
            frameBytes = frame.length;
            config = null; // let the embedder's tree go before the floor runs
            System.gc();
            long a0 = System.nanoTime();
            try (InputStream in = new GZIPInputStream(new java.io.ByteArrayInputStream(frame))) {
              if (CpRig.MAPPER.readTree(in) == null) {
                throw new IllegalStateException("empty frame");
              }
            }
            long a1 = System.nanoTime();
            tls.sendToAll(frame);
            long a2 = System.nanoTime();
            if (rep >= 0) {
              ours.add(CpRig.millis(arrival.nanos - t0));
              call.add(CpRig.millis(t1 - t0));
              delivery.add(CpRig.millis(arrival.nanos - t1));
              applyFloor.add(CpRig.millis(a1 - a0));
              tlsFloor.add(CpRig.millis(a2 - a1));
            }
          }
          double floor = CpRig.median(applyFloor) + CpRig.median(tlsFloor);
          double oursMs = CpRig.median(ours);
          rows.add(
              Result.relative(
                  "publish -> listener (mTLS loopback)",
                  CpRig.workload(bytes),
                  "gunzip + readTree + raw TLS transfer of the same frame",
                  floor,
                  oursMs,
                  "ms",
                  1.5,
                  String.format(
                      Locale.ROOT,
                      "JSON %s, frame %s gzip; ours = publish() call %s ms (copy, hash, serialise,"
                          + " gzip, store) + delivery %s ms (TLS, node: gunzip, parse, verify"
                          + " hash, listener); floor = apply %s ms + TLS %s ms (%s); ratio of"
                          + " delivery alone to floor %.2f; median of %d",
                      CpRig.size(jsonBytes),
                      CpRig.size(frameBytes),
                      CpRig.fmt(CpRig.median(call)),
                      CpRig.fmt(CpRig.median(delivery)),
                      CpRig.fmt(CpRig.median(applyFloor)),
                      CpRig.fmt(CpRig.median(tlsFloor)),
                      tls.cipherSuite(),
                      CpRig.median(delivery) / floor,
                      mode.repetitions())));
        }
      } finally {
        client.close();
      }
    }
    return rows;
  }

  private record Arrival(long nanos, ConfigSnapshot snapshot) {}
}
