package dev.configsync.tls;

import java.io.IOException;
import java.net.Socket;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.cert.CertPathBuilderException;
import java.security.cert.CertificateException;
import java.security.cert.CertificateExpiredException;
import java.security.cert.CertificateNotYetValidException;
import java.security.cert.X509Certificate;
import java.time.Instant;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.TrustManager;
import javax.net.ssl.TrustManagerFactory;
import javax.net.ssl.X509ExtendedTrustManager;

/**
 * Trust managers for the two trust modes of the protocol, used the same way by the data plane
 * (checking the control plane's certificate) and by the control plane (checking data planes' client
 * certificates). A refusal is a {@link CertificateRefusedException} whose message names the side
 * ({@code control plane} when checking a server, {@code data plane} when checking a client), the
 * certificate (subject, issuer, serial, validity, SHA-256) and what to check.
 *
 * <p>Both check the validity dates of the peer's certificates against this machine's clock and say
 * so in the message, since a wrong clock is a common cause.
 *
 * <p>The returned trust managers are immutable and thread-safe. Not API: may change in any release.
 */
public final class PeerTrust {
  private PeerTrust() {}

  /**
   * Trust mode {@code shared}: the peer must present exactly {@code clusterCertificate} (compared
   * by SHA-256 digest of its DER encoding), valid now. No CA chain is built or checked.
   */
  public static X509ExtendedTrustManager sharedCertificate(X509Certificate clusterCertificate) {
    return new Pinned(Objects.requireNonNull(clusterCertificate, "clusterCertificate"));
  }

  /**
   * Trust mode {@code pki}: the peer's chain must lead to one of {@code cas}, checked by the JDK's
   * PKIX validation (no platform trust roots, no revocation checks), with clearer messages than the
   * JDK's for the common failures.
   *
   * @throws IllegalArgumentException if {@code cas} is empty
   */
  public static X509ExtendedTrustManager certificateAuthorities(List<X509Certificate> cas) {
    if (cas.isEmpty()) {
      throw new IllegalArgumentException("no CA certificate given");
    }
    return new Authorities(List.copyOf(cas));
  }

  /** Which peer a check is about, for messages. */
  private enum Peer {
    CONTROL_PLANE("control plane", "this node"),
    DATA_PLANE("data plane", "the control plane");

    final String name;
    final String checker;

    Peer(String name, String checker) {
      this.name = name;
      this.checker = checker;
    }
  }

  private static void checkValidity(X509Certificate certificate, Peer peer, String which)
      throws CertificateRefusedException {
    Instant now = Instant.now();
    try {
      certificate.checkValidity();
    } catch (CertificateExpiredException e) {
      throw new CertificateRefusedException(
          "the "
              + peer.name
              + "'s "
              + which
              + " expired at "
              + certificate.getNotAfter().toInstant()
              + " ("
              + PemMaterial.describe(certificate)
              + "); it must be renewed (or this machine's clock is wrong: it reads "
              + now
              + ")",
          e);
    } catch (CertificateNotYetValidException e) {
      throw new CertificateRefusedException(
          "the "
              + peer.name
              + "'s "
              + which
              + " is not valid before "
              + certificate.getNotBefore().toInstant()
              + " ("
              + PemMaterial.describe(certificate)
              + "); this machine's clock reads "
              + now
              + ": check the clocks of both machines, or use the certificate once it is valid",
          e);
    }
  }

  private static X509Certificate leaf(X509Certificate[] chain, Peer peer)
      throws CertificateRefusedException {
    if (chain.length == 0) {
      throw new CertificateRefusedException("the " + peer.name + " presented no certificate");
    }
    return chain[0];
  }

  /** Trusts exactly one certificate. */
  private static final class Pinned extends X509ExtendedTrustManager {
    private final X509Certificate pinned;
    private final String pinnedSha256;

    Pinned(X509Certificate pinned) {
      this.pinned = pinned;
      this.pinnedSha256 = PemMaterial.sha256Fingerprint(pinned);
    }

    private void check(X509Certificate[] chain, Peer peer) throws CertificateRefusedException {
      X509Certificate leaf = leaf(chain, peer);
      String sha256 = PemMaterial.sha256Fingerprint(leaf);
      if (!sha256.equals(pinnedSha256)) {
        throw new CertificateRefusedException(
            peer.name
                + " certificate does not match the shared cluster certificate (sha256 "
                + sha256
                + ", subject '"
                + leaf.getSubjectX500Principal().getName()
                + "'; expected sha256 "
                + pinnedSha256
                + "): in shared mode the control plane and every data plane must use the same"
                + " certificate and key");
      }
      checkValidity(leaf, peer, "certificate (the shared cluster certificate)");
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE);
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE);
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE);
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return new X509Certificate[] {pinned};
    }
  }

  /** The JDK's PKIX validation against the given CAs, with messages that say what to check. */
  private static final class Authorities extends X509ExtendedTrustManager {
    private final List<X509Certificate> cas;
    private final X509ExtendedTrustManager pkix;

    Authorities(List<X509Certificate> cas) {
      this.cas = cas;
      this.pkix = pkix(cas);
    }

    private static X509ExtendedTrustManager pkix(List<X509Certificate> cas) {
      try {
        KeyStore store = KeyStore.getInstance(KeyStore.getDefaultType());
        store.load(null, null);
        for (int i = 0; i < cas.size(); i++) {
          store.setCertificateEntry("ca-" + i, cas.get(i));
        }
        TrustManagerFactory factory =
            TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
        factory.init(store);
        for (TrustManager manager : factory.getTrustManagers()) {
          if (manager instanceof X509ExtendedTrustManager x509) {
            return x509;
          }
        }
        throw new IllegalStateException("the JDK offers no X509ExtendedTrustManager");
      } catch (GeneralSecurityException | IOException e) {
        throw new IllegalStateException("cannot set up the JDK's PKIX trust manager: " + e, e);
      }
    }

    /** Dates first: the JDK reports them as a bare "validity check failed". */
    private void precheck(X509Certificate[] chain, Peer peer) throws CertificateRefusedException {
      X509Certificate leaf = leaf(chain, peer);
      checkValidity(leaf, peer, "certificate");
      for (int i = 1; i < chain.length; i++) {
        if (!cas.contains(chain[i])) {
          checkValidity(
              chain[i],
              peer,
              "intermediate CA certificate '" + chain[i].getSubjectX500Principal().getName() + "'");
        }
      }
    }

    private CertificateException explain(
        CertificateException e, X509Certificate[] chain, Peer peer) {
      String trusted =
          cas.stream()
              .map(c -> "'" + c.getSubjectX500Principal().getName() + "'")
              .collect(Collectors.joining(", "));
      if (hasCause(e, CertPathBuilderException.class)) {
        return new CertificateRefusedException(
            "the "
                + peer.name
                + "'s certificate is not issued by a CA "
                + peer.checker
                + " trusts ("
                + PemMaterial.describe(chain[0])
                + "; trusted CAs: "
                + trusted
                + "); check the CA file, and that the "
                + peer.name
                + " sends its intermediate CA certificates",
            e);
      }
      return new CertificateRefusedException(
          "the "
              + peer.name
              + "'s certificate was refused by the CA check ("
              + PemMaterial.describe(chain[0])
              + "; trusted CAs: "
              + trusted
              + "): "
              + e.getMessage(),
          e);
    }

    private static boolean hasCause(Throwable e, Class<? extends Throwable> type) {
      for (Throwable t = e; t != null; t = t.getCause()) {
        if (type.isInstance(t)) {
          return true;
        }
      }
      return false;
    }

    /** One of the JDK trust manager's checks. */
    private interface JdkCheck {
      void run() throws CertificateException;
    }

    private void check(X509Certificate[] chain, Peer peer, JdkCheck jdk)
        throws CertificateException {
      precheck(chain, peer);
      try {
        jdk.run();
      } catch (CertificateException e) {
        throw explain(e, chain, peer);
      }
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE, () -> pkix.checkClientTrusted(chain, authType));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE, () -> pkix.checkServerTrusted(chain, authType));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE, () -> pkix.checkClientTrusted(chain, authType, socket));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, Socket socket)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE, () -> pkix.checkServerTrusted(chain, authType, socket));
    }

    @Override
    public void checkClientTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, Peer.DATA_PLANE, () -> pkix.checkClientTrusted(chain, authType, engine));
    }

    @Override
    public void checkServerTrusted(X509Certificate[] chain, String authType, SSLEngine engine)
        throws CertificateException {
      check(chain, Peer.CONTROL_PLANE, () -> pkix.checkServerTrusted(chain, authType, engine));
    }

    @Override
    public X509Certificate[] getAcceptedIssuers() {
      return cas.toArray(new X509Certificate[0]);
    }
  }
}
