package dev.configsync.bench;

import dev.configsync.okhttp.OkHttpTransport;
import dev.configsync.testkit.TestPki;
import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.net.URI;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.PosixFilePermissions;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.Semaphore;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

/**
 * "CP heap per idle connection": the control plane runs in a child JVM ({@link
 * IdleControlPlaneChild}, same class path, 1 GiB heap, G1); this JVM opens N idle data plane
 * connections to it ({@link MiniNode}s: TLS, WebSocket upgrade, {@code basic_info}, first ping, the
 * 64 KB configuration received and acknowledged, then nothing). The child reports its heap in use
 * after GC before and with the connections open; the difference divided by N, in KiB, is the result
 * (absolute goal 64 KiB). Netty's pooled buffers outside the heap are reported in the note.
 */
final class IdleConnections implements Measurement {

  @Override
  public String name() {
    return "idle";
  }

  @Override
  public List<Result> run(Mode mode) throws Exception {
    List<Result> rows = new ArrayList<>();
    for (int n : mode.idleConnections()) {
      rows.add(run(n));
    }
    return rows;
  }

  private static Result run(int n) throws Exception {
    TestPki pki = TestPki.create();
    Path dir = Files.createTempDirectory("configsync-bench-idle");
    write(dir.resolve("cp.crt"), pki.controlPlaneCertificate().certificatePem());
    write(dir.resolve("cp.key"), pki.controlPlaneCertificate().privateKeyPkcs8Pem());
    write(dir.resolve("ca.crt"), pki.ca().certificatePem());
    Path java = Path.of(System.getProperty("java.home"), "bin", "java");
    Process child =
        new ProcessBuilder(
                java.toString(),
                "-Xms1g",
                "-Xmx1g",
                "-XX:+UseG1GC",
                "-Dorg.slf4j.simpleLogger.defaultLogLevel=warn",
                "-cp",
                System.getProperty("java.class.path"),
                IdleControlPlaneChild.class.getName(),
                dir.toString())
            .redirectError(ProcessBuilder.Redirect.INHERIT)
            .start();
    List<MiniNode> nodes = new ArrayList<>();
    OkHttpTransport transport = OkHttpTransport.create(pki.dataPlaneTls());
    try (BufferedReader from =
            new BufferedReader(
                new InputStreamReader(child.getInputStream(), StandardCharsets.UTF_8));
        PrintStream to = new PrintStream(child.getOutputStream(), true, StandardCharsets.UTF_8)) {
      String[] ready = expect(from, "ready");
      URI uri = URI.create("wss://127.0.0.1:" + ready[1]);
      String hash = ready[2];
      Heap before = heap(from, to);
      Semaphore handshakes = new Semaphore(64);
      AtomicLong decode = new AtomicLong();
      for (int i = 0; i < n; i++) {
        handshakes.acquire();
        MiniNode node = new MiniNode(open -> handshakes.release(), done -> {}, decode);
        nodes.add(node);
        node.connect(transport, uri);
      }
      long deadline = System.nanoTime() + TimeUnit.SECONDS.toNanos(120);
      while (true) {
        to.println("nodes " + hash);
        int on = Integer.parseInt(expect(from, "nodes")[1]);
        if (on == n) {
          break;
        }
        if (System.nanoTime() > deadline) {
          throw new IllegalStateException(on + " of " + n + " idle nodes connected within 120 s");
        }
        Thread.sleep(100);
      }
      Heap with = heap(from, to);
      double perConnKiB = (with.used - before.used) / (double) n / 1024;
      double nettyHeapKiB = (with.nettyHeap - before.nettyHeap) / (double) n / 1024;
      double nettyDirectKiB = (with.nettyDirect - before.nettyDirect) / (double) n / 1024;
      to.println("quit");
      return Result.absolute(
          "CP heap per idle connection",
          n + " connections",
          perConnKiB,
          "KiB",
          64,
          String.format(
              Locale.ROOT,
              "control plane in a child JVM (1 GiB heap, G1), clients in this one; heap after GC"
                  + " %s MiB without the connections, %s MiB with them; outside the heap,"
                  + " Netty's pooled direct buffers grew by %s KiB per connection (its pooled"
                  + " heap buffers, included above, by %s KiB)",
              CpRig.fmt(before.used / 1048576.0),
              CpRig.fmt(with.used / 1048576.0),
              CpRig.fmt(nettyDirectKiB),
              CpRig.fmt(nettyHeapKiB)));
    } finally {
      for (MiniNode node : nodes) {
        node.cancel();
      }
      transport.close();
      if (!child.waitFor(10, TimeUnit.SECONDS)) {
        child.destroyForcibly();
        child.waitFor(10, TimeUnit.SECONDS);
      }
      for (String f : new String[] {"cp.crt", "cp.key", "ca.crt"}) {
        Files.deleteIfExists(dir.resolve(f));
      }
      Files.deleteIfExists(dir);
    }
  }

  private record Heap(long used, long nettyHeap, long nettyDirect, long jdkDirect) {}

  private static Heap heap(BufferedReader from, PrintStream to) throws IOException {
    to.println("heap");
    String[] h = expect(from, "heap");
    return new Heap(
        Long.parseLong(h[1]), Long.parseLong(h[2]), Long.parseLong(h[3]), Long.parseLong(h[4]));
  }

  private static String[] expect(BufferedReader from, String word) throws IOException {
    while (true) {
      String line = from.readLine();
      if (line == null) {
        throw new IOException("the control plane child exited before answering '" + word + "'");
      }
      String[] parts = line.trim().split(" ", -1);
      if (parts[0].equals(word)) {
        return parts;
      }
      if (parts[0].equals("error")) {
        throw new IOException("control plane child: " + line);
      }
      // anything else is the child's own output (logs); skip it
    }
  }

  private static void write(Path file, String text) throws IOException {
    Files.writeString(file, text, StandardCharsets.US_ASCII);
    Files.setPosixFilePermissions(file, PosixFilePermissions.fromString("rw-------"));
  }
}
