package dev.configsync.cp;

import static org.assertj.core.api.Assertions.assertThat;
import static org.awaitility.Awaitility.await;

import dev.configsync.internal.ConfigHash;
import dev.configsync.internal.Gzip;
import dev.configsync.internal.Json;
import dev.configsync.okhttp.internal.WebSocketFrame;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.Map;
import okio.ByteString;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;

/**
 * The control plane's side of the protocol, driven by a hand-written data plane: what it accepts,
 * what it answers, and every violation closing the connection with a reason.
 */
class OutletProtocolTest {
  private final ControlPlaneFixture f = new ControlPlaneFixture();
  private InetSocketAddress cp;

  @BeforeEach
  void start() throws Exception {
    f.start(b -> b.heartbeatInterval(Duration.ofSeconds(2)));
    cp = f.address();
  }

  @AfterEach
  void stop() throws Exception {
    f.close();
  }

  private RawDataPlane connected() throws Exception {
    RawDataPlane dp = RawDataPlane.connect(f.dataPlaneTls(), cp, "0.1.0");
    f.closeables.add(dp);
    assertThat(dp.upgraded()).as(dp.responseStatus).isTrue();
    return dp;
  }

  private static String closeReason(WebSocketFrame close) {
    ByteString payload = close.payload();
    return payload.size() > 2 ? payload.substring(2).utf8() : "";
  }

  private static int closeCode(WebSocketFrame close) {
    ByteString p = close.payload();
    return ((p.getByte(0) & 0xff) << 8) | (p.getByte(1) & 0xff);
  }

  @Test
  void answersEachPingWithAnEmptyPongAndSendsTheLatestConfigurationAfterTheFirstPing()
      throws Exception {
    PublishResult published = f.cp.publish("{\"services\":[]}");
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);

    WebSocketFrame pong = dp.read();
    assertThat(pong.opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    assertThat(pong.payload().size()).isZero();
    WebSocketFrame config = dp.read();
    assertThat(config.opcode()).isEqualTo(WebSocketFrame.OP_BINARY);
    var message = Json.readFrozen(Gzip.decompress(config.payload().toByteArray(), 1 << 20));
    assertThat(message.path("type").asText()).isEqualTo("reconfigure");
    assertThat(message.path("config_hash").asText()).isEqualTo(published.hash());
    assertThat(message.path("hashes").path("config").asText()).isEqualTo(published.hash());
    assertThat(message.path("timestamp").isNumber()).isTrue();

    dp.ping(published.hash());
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    await().until(() -> f.cp.dataPlanes().get(0).configHash().equals(published.hash()));
  }

  /**
   * Edits that come faster than the node's ping after each apply: each is sent once the node has
   * answered the frame before (its ping after the apply), as a change from what it then runs. A
   * change made from an older ping would not fit what the node runs by then (it would refuse it and
   * ask for the whole configuration).
   */
  @Test
  void eachChangeIsSentOnceTheFrameBeforeIsAnsweredAndIsMadeFromIt() throws Exception {
    PublishResult first = f.cp.publish(services(0));
    RawDataPlane dp = connected();
    dp.sendBasicInfoWithDeltas();
    dp.ping(ConfigHash.NONE);
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    assertThat(message(dp.read()).path("type").asText()).isEqualTo("reconfigure");
    String sent = first.hash();
    dp.ping(sent); // the node took the whole frame
    await().until(() -> f.cp.dataPlanes().get(0).configHash().equals(first.hash()));
    for (int i = 1; i <= 3; i++) {
      PublishResult next = f.cp.publish(services(i)); // before the node answered the frame before
      dp.ping(sent); // the node's ping after it applied it
      var change = message(readPastPongs(dp));
      assertThat(change.path("type").asText()).as("publish %d", i).isEqualTo("reconfigure_delta");
      assertThat(change.path("base_hash").asText()).as("publish %d", i).isEqualTo(sent);
      assertThat(change.path("config_hash").asText()).isEqualTo(next.hash());
      sent = next.hash();
    }
  }

  private static WebSocketFrame readPastPongs(RawDataPlane dp) throws Exception {
    while (true) {
      WebSocketFrame frame = dp.read();
      if (frame.opcode() != WebSocketFrame.OP_PONG) {
        return frame;
      }
    }
  }

  /** 100 services; the first one's port is {@code port}. */
  private static String services(int port) {
    StringBuilder json = new StringBuilder("{\"services\":[");
    for (int i = 0; i < 100; i++) {
      json.append(i == 0 ? "" : ",")
          .append("{\"name\":\"s")
          .append(i)
          .append("\",\"host\":\"h")
          .append(i)
          .append(".internal\",\"port\":")
          .append(i == 0 ? 1000 + port : 80)
          .append('}');
    }
    return json.append("]}").toString();
  }

  private static com.fasterxml.jackson.databind.JsonNode message(WebSocketFrame frame)
      throws Exception {
    assertThat(frame.opcode()).isEqualTo(WebSocketFrame.OP_BINARY);
    return Json.readFrozen(Gzip.decompress(frame.payload().toByteArray(), 1 << 20));
  }

  @Test
  void doesNotResendTheConfigurationANodeAlreadyRuns() throws Exception {
    PublishResult published = f.cp.publish("{\"services\":[]}");
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping(published.hash());
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    dp.ping(published.hash());
    // Had the configuration been sent, it would come before this second pong.
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
  }

  @Test
  void acceptsAnErrorReportAndShowsItInTheRegistry() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);
    dp.read();
    dp.writer.writeBinary(
        ByteString.encodeUtf8(
            "{\"type\":\"error\",\"error\":{\"name\":\"config_rejected\",\"source\":\"dp\","
                + "\"message\":\"validator said no\",\"config_hash\":\""
                + "0123456789abcdef0123456789abcdef\"}}"));
    dp.ping(ConfigHash.NONE);
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    await().until(() -> f.cp.dataPlanes().get(0).lastError().isPresent());
    DataPlaneInfo.ReportedError error = f.cp.dataPlanes().get(0).lastError().orElseThrow();
    assertThat(error.name()).isEqualTo("config_rejected");
    assertThat(error.message()).isEqualTo("validator said no");
    assertThat(error.configHash()).isEqualTo("0123456789abcdef0123456789abcdef");
    assertThat(f.cp.dataPlanes().get(0).connected()).isTrue();
  }

  private void assertClosedFor(RawDataPlane dp, String reasonPart) throws Exception {
    WebSocketFrame close = dp.readUntilClose();
    assertThat(closeCode(close)).isEqualTo(WebSocketFrame.CLOSE_PROTOCOL_ERROR);
    assertThat(closeReason(close)).contains(reasonPart);
    // Answer the close as a real node's transport does: the control plane waits (up to 2 s) for
    // that answer before it closes the socket, so not answering only made each test 2 s longer.
    dp.writer.writeClose(WebSocketFrame.CLOSE_PROTOCOL_ERROR, "");
    await().until(() -> f.cp.dataPlanes().stream().noneMatch(DataPlaneInfo::connected));
  }

  @Test
  void closesOnATextFrame() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.writer.writeText("{\"type\":\"error\"}");
    assertClosedFor(dp, "text frame");
  }

  @Test
  void closesOnAPingWhosePayloadIsNotAHash() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping("abc");
    assertClosedFor(dp, "ping payload of 3 bytes");
  }

  @Test
  void closesOnAPingOfTheRightLengthThatIsNotHex() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping("zzzzzzzzzzzzzzzzzzzzzzzzzzzzzzzz");
    assertClosedFor(dp, "not a lowercase hexadecimal hash");
  }

  @Test
  void closesOnAPingBeforeBasicInfo() throws Exception {
    RawDataPlane dp = connected();
    dp.ping(ConfigHash.NONE);
    assertClosedFor(dp, "before basic_info");
  }

  @Test
  void closesOnAnUnknownMessageType() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.writer.writeBinary(ByteString.encodeUtf8("{\"type\":\"reconfigure\"}"));
    assertClosedFor(dp, "type 'reconfigure'");
  }

  @Test
  void closesOnAFirstMessageThatIsNotBasicInfo() throws Exception {
    RawDataPlane dp = connected();
    dp.writer.writeBinary(ByteString.encodeUtf8("{\"type\":\"hello\"}"));
    assertClosedFor(dp, "basic_info must come first");
  }

  @Test
  void closesOnABinaryFrameThatIsNotJson() throws Exception {
    RawDataPlane dp = connected();
    dp.writer.writeBinary(ByteString.of(new byte[] {0x1f, (byte) 0x8b, 0, 1}));
    assertClosedFor(dp, "not valid JSON");
  }

  @Test
  void closesOnAFrameLargerThanItReads() throws Exception {
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);
    await().until(() -> f.cp.dataPlanes().size() == 1);
    try {
      dp.writer.writeBinary(
          ByteString.of(new byte[ControlPlaneServer.DEFAULT_MAX_INBOUND_FRAME_BYTES + 1]));
    } catch (java.io.IOException e) {
      // The control plane may close before the whole frame is written: that is the point.
    }
    // It judges the frame by its header, without reading the payload, then closes.
    await().until(() -> !f.cp.dataPlanes().get(0).connected());
    java.util.List<Integer> closeCodes = new java.util.ArrayList<>();
    try {
      closeCodes.add(closeCode(dp.readUntilClose()));
    } catch (java.io.IOException e) {
      // Reset before the close frame could be read.
    }
    assertThat(closeCodes).allMatch(code -> code == WebSocketFrame.CLOSE_MESSAGE_TOO_BIG);
  }

  @Test
  void dropsANodeThatStopsPinging() throws Exception {
    f.cp.close();
    f.start(b -> b.heartbeatInterval(Duration.ofMillis(200)));
    RawDataPlane dp = RawDataPlane.connect(f.dataPlaneTls(), f.address(), "0.1.0");
    f.closeables.add(dp);
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);
    long start = System.nanoTime();
    WebSocketFrame close = dp.readUntilClose();
    long silentMillis = (System.nanoTime() - start) / 1_000_000;
    assertThat(closeReason(close)).contains("no ping for");
    assertThat(silentMillis).isGreaterThanOrEqualTo(250);
    await().until(() -> !f.cp.dataPlanes().get(0).connected());
  }

  @Test
  void refusesAnUpgradeWithBadQueryParametersWithAJsonError() throws Exception {
    RawDataPlane dp =
        RawDataPlane.connect(
            f.dataPlaneTls(), cp, "/v1/outlet?node_id=nope&node_hostname=h&node_version=1.0", 0);
    f.closeables.add(dp);
    assertThat(dp.responseStatus).startsWith("HTTP/1.1 400");
    assertThat(dp.body()).contains("node_id must be a UUID");

    RawDataPlane old =
        RawDataPlane.connect(
            f.dataPlaneTls(),
            cp,
            "/v1/outlet?node_id=" + java.util.UUID.randomUUID() + "&node_hostname=h&node_version=x",
            0);
    f.closeables.add(old);
    assertThat(old.responseStatus).startsWith("HTTP/1.1 400");
    assertThat(old.body()).contains("node_version");
  }

  @Test
  void answersOtherPathsWithAJsonError() throws Exception {
    RawDataPlane ingest = RawDataPlane.connect(f.dataPlaneTls(), cp, "/v1/ingest", 0);
    f.closeables.add(ingest);
    assertThat(ingest.responseStatus).startsWith("HTTP/1.1 400"); // usage needs a node_id
    assertThat(ingest.body()).contains("node_id");
    RawDataPlane other = RawDataPlane.connect(f.dataPlaneTls(), cp, "/admin", 0);
    f.closeables.add(other);
    assertThat(other.responseStatus).startsWith("HTTP/1.1 404");
    assertThat(other.body()).contains("/v1/outlet");
  }

  @Test
  void aSecondConnectionFromTheSameNodeReplacesTheFirst() throws Exception {
    String id = java.util.UUID.randomUUID().toString();
    RawDataPlane first = RawDataPlane.connect(f.dataPlaneTls(), cp, id, "0.1.0", 0);
    f.closeables.add(first);
    first.sendBasicInfo(Map.of());
    first.ping(ConfigHash.NONE);
    first.read();
    RawDataPlane second = RawDataPlane.connect(f.dataPlaneTls(), cp, id, "0.1.0", 0);
    f.closeables.add(second);
    second.sendBasicInfo(Map.of("a", "1.0.0"));
    WebSocketFrame close = first.readUntilClose();
    assertThat(closeReason(close)).contains("replaced");
    second.ping(ConfigHash.NONE);
    assertThat(second.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    assertThat(f.cp.dataPlanes()).hasSize(1);
    assertThat(f.cp.dataPlanes().get(0).connected()).isTrue();
    assertThat(f.cp.dataPlanes().get(0).capabilities()).containsKey("a");
  }

  @Test
  void aRollbackPublishedWhileTheNewerFrameIsOnItsWayIsStillSent() throws Exception {
    PublishResult a = f.cp.publish("{\"v\":\"a\"}");
    RawDataPlane dp = connected();
    dp.sendBasicInfo(Map.of());
    dp.ping(ConfigHash.NONE);
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);
    assertThat(hashOf(dp.read())).isEqualTo(a.hash());
    dp.ping(a.hash());
    assertThat(dp.read().opcode()).isEqualTo(WebSocketFrame.OP_PONG);

    // B, then A again, before the node pings B: its last ping still says A, but A must follow B.
    PublishResult b = f.cp.publish("{\"v\":\"b\"}");
    PublishResult back = f.cp.publish("{\"v\":\"a\"}");
    assertThat(back.changed()).isTrue();
    assertThat(hashOf(dp.read())).isEqualTo(b.hash());
    assertThat(hashOf(dp.read())).isEqualTo(a.hash());
  }

  private static String hashOf(WebSocketFrame frame) throws Exception {
    assertThat(frame.opcode()).isEqualTo(WebSocketFrame.OP_BINARY);
    return Json.readFrozen(Gzip.decompress(frame.payload().toByteArray(), 1 << 20))
        .path("config_hash")
        .asText();
  }
}
