package dev.configsync.okhttp;

import dev.configsync.tls.CertificateRefusedException;
import dev.configsync.tls.PemMaterial;
import java.io.EOFException;
import java.io.IOException;
import java.io.InterruptedIOException;
import java.net.ProtocolException;
import java.net.SocketException;
import java.net.URI;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.util.Locale;
import java.util.Set;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import javax.net.ssl.SSLException;
import javax.net.ssl.SSLPeerUnverifiedException;
import org.jspecify.annotations.Nullable;

/**
 * Turns the JDK's and OkHttp's TLS failures into messages that say what went wrong and what to
 * check. The result ends up in {@code SyncEvent.Disconnected}'s reason and the agent's {@code
 * disconnected} line.
 */
final class TlsFailures {
  private static final Pattern ALERT = Pattern.compile("Received fatal alert: (\\w+)");

  /** Alerts with which a TLS server refuses the client's certificate (RFC 8446 section 6.2). */
  private static final Set<String> CERTIFICATE_ALERTS =
      Set.of(
          "bad_certificate",
          "unsupported_certificate",
          "certificate_revoked",
          "certificate_expired",
          "certificate_unknown",
          "unknown_ca",
          "access_denied",
          "certificate_required");

  private TlsFailures() {}

  /**
   * {@code failure} itself when it is not about TLS; otherwise an {@link SSLException} with an
   * operator-facing message, caused by {@code failure}.
   *
   * @param tls the material the attempt used
   * @param tlsProblem why newer TLS files could not be used, if they could not
   * @param phase how far the TLS handshake got
   */
  static Throwable describe(
      Throwable failure,
      URI uri,
      TlsConfig tls,
      @Nullable String tlsProblem,
      OkHttpConnection.HandshakePhase phase) {
    String explanation = explain(failure, uri, tls, phase);
    if (explanation == null) {
      return failure;
    }
    int port = uri.getPort() == -1 ? 443 : uri.getPort();
    String message =
        "TLS with the control plane at "
            + uri.getHost()
            + ":"
            + port
            + " failed: "
            + explanation
            + (tlsProblem == null
                ? ""
                : " (note: the TLS files changed but cannot be used, so the previous certificate"
                    + " was presented: "
                    + tlsProblem
                    + ")");
    return new SSLException(message, failure);
  }

  private static @Nullable String explain(
      Throwable failure, URI uri, TlsConfig tls, OkHttpConnection.HandshakePhase phase) {
    CertificateRefusedException refused = find(failure, CertificateRefusedException.class);
    if (refused != null) {
      return refused.getMessage();
    }
    SSLPeerUnverifiedException unverified = find(failure, SSLPeerUnverifiedException.class);
    if (unverified != null && String.valueOf(unverified.getMessage()).startsWith("Hostname ")) {
      String name = tls.serverName() != null ? tls.serverName() : uri.getHost();
      return "the control plane's certificate is not valid for the name '"
          + name
          + "' ("
          + details(unverified)
          + "); connect with a host name the certificate holds, or set the server name to one of"
          + " them (TlsConfig.withServerName, agent --server-name)";
    }
    String alert = alert(failure);
    if (alert != null) {
      return alert(alert, tls);
    }
    String jdk = messages(failure);
    if (jdk.contains("is not accepted by client preferences")
        || jdk.contains("No appropriate protocol")) {
      return "the control plane does not offer TLS 1.2 or 1.3, and configsync never uses older"
          + " versions; enable TLS 1.2 or 1.3 on the control plane ("
          + jdk
          + ")";
    }
    if (phase.started() && connectionCut(failure, phase.secured())) {
      // A server that refuses the client certificate sends an alert and closes. Whether the
      // client reads that alert, or first fails writing the rest of its handshake (broken pipe,
      // reset) or its upgrade request (TLS 1.3: the client's side is over before the server has
      // judged the certificate), is a matter of timing.
      return "the control plane closed the connection "
          + (phase.secured()
              ? "right after the TLS handshake, before answering the WebSocket upgrade"
              : "during the TLS handshake")
          + " ("
          + jdk
          + "): it most likely refused this node's certificate; "
          + checkOwnCertificate(tls)
          + ownCertificate(tls);
    }
    if (find(failure, SSLException.class) != null) {
      return "the TLS handshake failed ("
          + jdk
          + "); check the CA, the server name and this node's certificate"
          + ownCertificate(tls);
    }
    return null;
  }

  private static String alert(String alert, TlsConfig tls) {
    if (CERTIFICATE_ALERTS.contains(alert)) {
      return "the control plane refused this node's certificate (TLS alert "
          + alert
          + ")"
          + (alert.equals("certificate_expired") ? ": it says the certificate has expired" : "")
          + "; "
          + checkOwnCertificate(tls)
          + ownCertificate(tls);
    }
    return switch (alert) {
      case "protocol_version" ->
          "the control plane does not offer TLS 1.2 or 1.3 (TLS alert protocol_version), and"
              + " configsync never uses older versions; enable TLS 1.2 or 1.3 on the control plane";
      case "handshake_failure", "insufficient_security" ->
          "the control plane ended the handshake (TLS alert "
              + alert
              + "): no TLS version or cipher suite in common (configsync offers TLS 1.2 and 1.3"
              + " with modern cipher suites), or it wanted a client certificate it did not accept"
              + ownCertificate(tls);
      default ->
          "the control plane ended the TLS handshake (TLS alert "
              + alert
              + "); check its log"
              + ownCertificate(tls);
    };
  }

  /**
   * Whether {@code failure} is the connection being cut (reset, broken pipe, end of stream), as
   * opposed to a timeout, an HTTP answer, or a TLS error the JDK could name.
   */
  private static boolean connectionCut(Throwable failure, boolean secured) {
    if (failure instanceof ProtocolException
        || find(failure, InterruptedIOException.class) != null) {
      return false;
    }
    return find(failure, SocketException.class) != null
        || find(failure, EOFException.class) != null
        || (secured && find(failure, SSLException.class) != null);
  }

  /** What to check when the control plane refused this node's certificate. */
  private static String checkOwnCertificate(TlsConfig tls) {
    X509Certificate leaf = tls.certificateChain().get(0);
    return tls.mode() == TlsConfig.Mode.SHARED
        ? "check that this node has the same cluster certificate and key as the control plane"
            + " (this node's: sha256 "
            + PemMaterial.sha256Fingerprint(leaf)
            + ")"
        : "check that the control plane trusts the CA that issued this node's certificate ("
            + PemMaterial.describe(leaf)
            + "), and the control plane's log";
  }

  /** A note when this node's own certificate is outside its validity dates, else "". */
  private static String ownCertificate(TlsConfig tls) {
    X509Certificate leaf = tls.certificateChain().get(0);
    try {
      leaf.checkValidity();
      return "";
    } catch (CertificateExpiredException e) {
      return "; note that this node's certificate expired at "
          + leaf.getNotAfter().toInstant()
          + " ("
          + PemMaterial.describe(leaf)
          + "): renew it (the files are read again before each connection)";
    } catch (CertificateNotYetValidException e) {
      return "; note that this node's certificate is not valid before "
          + leaf.getNotBefore().toInstant()
          + " ("
          + PemMaterial.describe(leaf)
          + "): check the clocks";
    }
  }

  private static @Nullable String alert(Throwable failure) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      Matcher m = ALERT.matcher(String.valueOf(t.getMessage()));
      if (m.find()) {
        return m.group(1).toLowerCase(Locale.ROOT);
      }
      for (Throwable suppressed : t.getSuppressed()) {
        Matcher s = ALERT.matcher(String.valueOf(suppressed.getMessage()));
        if (s.find()) {
          return s.group(1).toLowerCase(Locale.ROOT);
        }
      }
    }
    return null;
  }

  private static <T extends Throwable> @Nullable T find(Throwable failure, Class<T> type) {
    for (Throwable t = failure; t != null; t = t.getCause()) {
      if (type.isInstance(t)) {
        return type.cast(t);
      }
    }
    return null;
  }

  /** The messages of the cause chain, on one line. */
  private static String messages(Throwable failure) {
    StringBuilder out = new StringBuilder();
    for (Throwable t = failure; t != null; t = t.getCause()) {
      String m = t.getMessage();
      if (m != null && !m.isBlank() && out.indexOf(m) < 0) {
        if (out.length() > 0) {
          out.append(": ");
        }
        out.append(m);
      }
    }
    return out.length() == 0 ? failure.getClass().getSimpleName() : out.toString();
  }

  private static String details(IOException e) {
    return String.valueOf(e.getMessage()).strip().replaceAll("\\s*\\n\\s*", "; ");
  }
}
