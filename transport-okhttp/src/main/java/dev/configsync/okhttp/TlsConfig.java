package dev.configsync.okhttp;

import dev.configsync.tls.PeerTrust;
import dev.configsync.tls.PemMaterial;
import dev.configsync.tls.SecretFilePermissions;
import java.nio.charset.StandardCharsets;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.MessageDigest;
import java.security.PrivateKey;
import java.security.cert.Certificate;
import java.security.cert.X509Certificate;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.HexFormat;
import java.util.List;
import java.util.Objects;
import java.util.stream.Collectors;
import javax.net.ssl.HostnameVerifier;
import javax.net.ssl.KeyManager;
import javax.net.ssl.SSLContext;
import javax.net.ssl.SSLPeerUnverifiedException;
import javax.net.ssl.SSLSession;
import javax.net.ssl.SSLSocketFactory;
import javax.net.ssl.TrustManager;
import javax.net.ssl.X509ExtendedKeyManager;
import javax.net.ssl.X509ExtendedTrustManager;
import javax.net.ssl.X509TrustManager;
import okhttp3.internal.tls.OkHostnameVerifier;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;

/**
 * The mutual-TLS material of a connection to the control plane, in one of the protocol's two trust
 * modes:
 *
 * <ul>
 *   <li>{@link Mode#PKI pki} ({@link #pki}): this node has its own certificate and key, and trusts
 *       only the given CAs for the control plane's certificate, which must also name the host
 *       dialled (or the {@linkplain #withServerName server name}).
 *   <li>{@link Mode#SHARED shared} ({@link #shared}): the control plane and every node use one and
 *       the same certificate and key (Kong's {@code cluster_cert}). This node presents it, and
 *       trusts exactly that certificate: the control plane's must have the same SHA-256 digest and
 *       be within its validity dates. No CA chain or host name is checked: the exact match says
 *       more than either, and a shared certificate commonly names only {@code kong_clustering}.
 * </ul>
 *
 * <p>Only the given certificates are trusted: the platform's trust roots never are. Which TLS
 * versions and cipher suites are allowed (TLS 1.2 and later) is enforced by the transport, not
 * here. This node's certificate is presented whatever CAs the control plane says it accepts, so
 * that a control plane that does not trust it can say why.
 *
 * <p>Everything is parsed and checked when the instance is built, so a bad file fails at startup
 * with an {@link IllegalArgumentException} whose message names the file and says what is wrong: no
 * certificate, no key, an encrypted key without a passphrase or with a wrong one, a key that does
 * not belong to the first certificate of the chain, a file that cannot be read. Private keys may be
 * RSA or EC, in PKCS#8 ({@code BEGIN PRIVATE KEY}), PKCS#1 ({@code BEGIN RSA PRIVATE KEY}) or SEC1
 * ({@code BEGIN EC PRIVATE KEY}) form, and may be encrypted (PKCS#8 {@code BEGIN ENCRYPTED PRIVATE
 * KEY}, or OpenSSL's {@code Proc-Type: 4,ENCRYPTED}) when a passphrase is given. A key file that
 * group or others may read is used, with a WARN log that says how to fix its permissions.
 *
 * <p>Immutable and thread-safe. {@link #withServerName} returns a copy; {@link #reload()} returns a
 * new instance read from the same files, so certificates can be rotated without mutating a config
 * that connections may be using. {@link OkHttpTransport} re-reads the files before each connection
 * attempt and switches to new material when they changed.
 */
public final class TlsConfig {
  private static final Logger log = LoggerFactory.getLogger(TlsConfig.class);

  /** How the control plane and the data planes authenticate each other. */
  public enum Mode {
    /** Each side has its own certificate, issued by a CA the other side trusts. */
    PKI,
    /** Both sides use one and the same certificate and key, and trust exactly that certificate. */
    SHARED
  }

  private final Mode mode;
  private final List<X509Certificate> certificateChain;
  private final PrivateKey privateKey;
  private final List<X509Certificate> trustedCertificates;
  private final @Nullable String serverName;
  private final List<Path> sourcePaths;
  private final List<String> sourceDigests;
  private final char @Nullable [] passphrase;
  private final X509ExtendedKeyManager keyManager;
  private final X509ExtendedTrustManager trustManager;
  private final SSLContext sslContext;
  private final SSLSocketFactory sslSocketFactory;

  private TlsConfig(
      Mode mode,
      List<X509Certificate> certificateChain,
      PrivateKey privateKey,
      List<X509Certificate> trustedCertificates,
      @Nullable String serverName,
      List<Path> sourcePaths,
      List<String> sourceDigests,
      char @Nullable [] passphrase,
      X509ExtendedKeyManager keyManager,
      X509ExtendedTrustManager trustManager,
      SSLContext sslContext) {
    this.mode = mode;
    this.certificateChain = certificateChain;
    this.privateKey = privateKey;
    this.trustedCertificates = trustedCertificates;
    this.serverName = serverName;
    this.sourcePaths = sourcePaths;
    this.sourceDigests = sourceDigests;
    this.passphrase = passphrase;
    this.keyManager = keyManager;
    this.trustManager = trustManager;
    this.sslContext = sslContext;
    this.sslSocketFactory = ServerNameSocketFactory.wrap(sslContext.getSocketFactory(), serverName);
  }

  // ---- pki ------------------------------------------------------------------------------------

  /**
   * Trust mode {@code pki}, from PEM files. The paths are kept, so {@link #reload()} (and the
   * transport, before each connection) can read them again after the files were rotated.
   *
   * @param certPem this node's certificate chain: the leaf first, then any intermediates
   * @param keyPem the private key of the leaf certificate (RSA or EC; PKCS#8, PKCS#1 or SEC1), not
   *     encrypted
   * @param caPem one or more CA certificates to trust for the control plane's certificate
   * @throws IllegalArgumentException if a file cannot be read or holds unsuitable material; the
   *     message names the file
   */
  public static TlsConfig pki(Path certPem, Path keyPem, Path caPem) {
    return fromFiles(Mode.PKI, files(certPem, keyPem, caPem), null);
  }

  /**
   * Trust mode {@code pki}, from PEM files whose private key is encrypted with {@code passphrase}.
   * This config keeps a copy of the passphrase (never shown by {@link #toString()}) to decrypt the
   * key again when the files are rotated; the caller may wipe its own array afterwards.
   *
   * @param passphrase the key's passphrase; an unencrypted key is accepted too
   * @throws IllegalArgumentException as {@link #pki(Path, Path, Path)}, and if the passphrase is
   *     wrong
   */
  public static TlsConfig pki(Path certPem, Path keyPem, Path caPem, char[] passphrase) {
    Objects.requireNonNull(passphrase, "passphrase");
    return fromFiles(Mode.PKI, files(certPem, keyPem, caPem), passphrase.clone());
  }

  /**
   * Trust mode {@code pki}, from PEM text, e.g. taken from a secret store. Such a config has no
   * files to re-read: its {@link #reload()} returns it unchanged.
   *
   * @param certChainPem this node's certificate chain: the leaf first, then any intermediates
   * @param keyPem the private key of the leaf certificate (RSA or EC; PKCS#8, PKCS#1 or SEC1), not
   *     encrypted
   * @param caPem one or more CA certificates to trust for the control plane's certificate
   * @throws IllegalArgumentException if the text holds unsuitable material; the message names which
   *     of the three arguments is at fault
   */
  public static TlsConfig pkiFromPem(String certChainPem, String keyPem, String caPem) {
    return build(
        Mode.PKI,
        List.of(
            Objects.requireNonNull(certChainPem, "certChainPem"),
            Objects.requireNonNull(keyPem, "keyPem"),
            Objects.requireNonNull(caPem, "caPem")),
        List.of("certificate chain PEM", "private key PEM", "CA PEM"),
        List.of(),
        null,
        null);
  }

  // ---- shared ---------------------------------------------------------------------------------

  /**
   * Trust mode {@code shared}, from PEM files: {@code certPem} is the cluster certificate that the
   * control plane presents too (Kong's {@code cluster_cert}), {@code keyPem} its key. The paths are
   * kept for {@link #reload()}.
   *
   * @throws IllegalArgumentException if a file cannot be read or holds unsuitable material; the
   *     message names the file
   */
  public static TlsConfig shared(Path certPem, Path keyPem) {
    return fromFiles(Mode.SHARED, files(certPem, keyPem), null);
  }

  /**
   * Trust mode {@code shared}, from PEM files whose private key is encrypted with {@code
   * passphrase}; a copy of the passphrase is kept for {@link #reload()}, as for {@link #pki(Path,
   * Path, Path, char[])}.
   *
   * @throws IllegalArgumentException as {@link #shared(Path, Path)}, and if the passphrase is wrong
   */
  public static TlsConfig shared(Path certPem, Path keyPem, char[] passphrase) {
    Objects.requireNonNull(passphrase, "passphrase");
    return fromFiles(Mode.SHARED, files(certPem, keyPem), passphrase.clone());
  }

  /**
   * Trust mode {@code shared}, from PEM text. Nothing to re-read: {@link #reload()} returns it.
   *
   * @throws IllegalArgumentException if the text holds unsuitable material; the message names which
   *     argument is at fault
   */
  public static TlsConfig sharedFromPem(String certPem, String keyPem) {
    return build(
        Mode.SHARED,
        List.of(
            Objects.requireNonNull(certPem, "certPem"), Objects.requireNonNull(keyPem, "keyPem")),
        List.of("shared certificate PEM", "private key PEM"),
        List.of(),
        null,
        null);
  }

  // ---- building -------------------------------------------------------------------------------

  private static List<Path> files(Path... paths) {
    String[] names = {"certPem", "keyPem", "caPem"};
    for (int i = 0; i < paths.length; i++) {
      Objects.requireNonNull(paths[i], names[i]);
    }
    return List.of(paths);
  }

  private static TlsConfig fromFiles(Mode mode, List<Path> paths, char @Nullable [] passphrase) {
    return fromTexts(mode, paths, readAll(paths), passphrase, null);
  }

  /**
   * The text of each file, in order.
   *
   * @throws IllegalArgumentException naming the first file that cannot be read as PEM text
   */
  static List<String> readAll(List<Path> paths) {
    List<String> texts = new ArrayList<>(paths.size());
    for (Path path : paths) {
      texts.add(PemMaterial.readFile(path));
    }
    return texts;
  }

  /** Builds from the text of {@code paths}, already read, and warns about a loose key file. */
  static TlsConfig fromTexts(
      Mode mode,
      List<Path> paths,
      List<String> texts,
      char @Nullable [] passphrase,
      @Nullable String serverName) {
    List<String> sources = paths.stream().map(Path::toString).collect(Collectors.toList());
    TlsConfig config = build(mode, texts, sources, paths, passphrase, serverName);
    SecretFilePermissions.warning(paths.get(1), "private key").ifPresent(log::warn);
    return config;
  }

  /**
   * {@code texts} and {@code sources}: certificate chain, private key, and for {@link Mode#PKI} the
   * CAs.
   */
  private static TlsConfig build(
      Mode mode,
      List<String> texts,
      List<String> sources,
      List<Path> paths,
      char @Nullable [] passphrase,
      @Nullable String serverName) {
    String certSource = sources.get(0);
    String keySource = sources.get(1);
    List<X509Certificate> chain = PemMaterial.certificates(texts.get(0), certSource);
    PrivateKey key = PemMaterial.privateKey(texts.get(1), keySource, passphrase);
    PemMaterial.checkKeyMatchesLeaf(chain, key, certSource, keySource);
    List<X509Certificate> trusted;
    X509ExtendedTrustManager trust;
    if (mode == Mode.PKI) {
      trusted = PemMaterial.certificates(texts.get(2), sources.get(2));
      trust = PeerTrust.certificateAuthorities(trusted);
    } else {
      trusted = List.of(chain.get(0));
      trust = PeerTrust.sharedCertificate(chain.get(0));
    }
    X509ExtendedKeyManager keys = new FixedIdentityKeyManager(chain, key);
    SSLContext context;
    try {
      context = SSLContext.getInstance("TLS");
      context.init(new KeyManager[] {keys}, new TrustManager[] {trust}, null);
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("the JDK cannot set up TLS: " + e, e);
    }
    List<String> digests =
        paths.isEmpty() ? List.of() : texts.stream().map(TlsConfig::sha256).toList();
    return new TlsConfig(
        mode, chain, key, trusted, serverName, paths, digests, passphrase, keys, trust, context);
  }

  static String sha256(String text) {
    try {
      return HexFormat.of()
          .formatHex(
              MessageDigest.getInstance("SHA-256")
                  .digest(text.getBytes(StandardCharsets.ISO_8859_1)));
    } catch (GeneralSecurityException e) {
      throw new IllegalStateException("SHA-256 is missing from the JDK", e);
    }
  }

  // ---- variations -----------------------------------------------------------------------------

  /**
   * Returns a copy with a server name: sent as the TLS server name (SNI) when it is a DNS name the
   * JDK accepts (not an IP address, no underscore), and, in {@link Mode#PKI pki} mode, the name the
   * control plane's certificate is checked against instead of the host of the control plane URL.
   * Useful when connecting by IP address or through a tunnel while the certificate names the
   * service. In {@link Mode#SHARED shared} mode it is only sent, never checked.
   *
   * @param serverName a DNS name or IP address literal, without scheme or port
   * @throws IllegalArgumentException if {@code serverName} is empty or contains whitespace
   */
  public TlsConfig withServerName(String serverName) {
    Objects.requireNonNull(serverName, "serverName");
    if (serverName.isEmpty() || serverName.chars().anyMatch(Character::isWhitespace)) {
      throw new IllegalArgumentException(
          "serverName must be a non-empty host name without whitespace: '" + serverName + "'");
    }
    return new TlsConfig(
        mode,
        certificateChain,
        privateKey,
        trustedCertificates,
        serverName,
        sourcePaths,
        sourceDigests,
        passphrase,
        keyManager,
        trustManager,
        sslContext);
  }

  /**
   * Reads the files again and returns a new config built from them, keeping the mode, the {@link
   * #serverName()} and the passphrase. This instance is not changed. For a config built from PEM
   * text there is nothing to re-read and this instance is returned.
   *
   * <p>Does blocking file I/O on the calling thread.
   *
   * @throws IllegalArgumentException if the files now hold unsuitable material (for example, a
   *     rotation replaced the certificate but not yet the key); the caller should keep using the
   *     previous config
   */
  public TlsConfig reload() {
    if (sourcePaths.isEmpty()) {
      return this;
    }
    return reloadFrom(readAll(sourcePaths));
  }

  /** A new config from the current text of {@link #sourcePaths()}, read by the caller. */
  TlsConfig reloadFrom(List<String> texts) {
    return fromTexts(mode, sourcePaths, texts, passphrase, serverName);
  }

  /** SHA-256 of the text of each of {@link #sourcePaths()} as this config read it. */
  List<String> sourceDigests() {
    return sourceDigests;
  }

  // ---- accessors ------------------------------------------------------------------------------

  /** The trust mode. */
  public Mode mode() {
    return mode;
  }

  /**
   * The configured server name (see {@link #withServerName}), or null: then the host of the control
   * plane URL is sent and, in {@code pki} mode, checked.
   */
  public @Nullable String serverName() {
    return serverName;
  }

  /**
   * The files this config was read from, in the order certificate chain, private key, then (in
   * {@code pki} mode) CA; empty for a config built from PEM text. A rotation watcher can watch
   * these.
   */
  public List<Path> sourcePaths() {
    return sourcePaths;
  }

  /** This node's certificate chain, leaf first. Unmodifiable. */
  public List<X509Certificate> certificateChain() {
    return certificateChain;
  }

  /**
   * The certificates trusted for the control plane's: the CAs in {@code pki} mode, the shared
   * cluster certificate in {@code shared} mode. Unmodifiable.
   */
  public List<X509Certificate> trustedCertificates() {
    return trustedCertificates;
  }

  /**
   * A socket factory that presents this node's certificate chain, trusts only {@link
   * #trustedCertificates()} as the mode says, and sends the {@linkplain #withServerName server
   * name} as SNI if there is one. It does not check host names: that is left to the caller (see
   * {@link #hostnameVerifier()}).
   */
  public SSLSocketFactory sslSocketFactory() {
    return sslSocketFactory;
  }

  /**
   * The trust manager of {@link #sslSocketFactory()}: CA checks in {@code pki} mode, the exact
   * certificate in {@code shared} mode; refusals are {@link
   * dev.configsync.tls.CertificateRefusedException}s with messages meant for operators.
   */
  public X509TrustManager trustManager() {
    return trustManager;
  }

  /**
   * The check of the control plane's identity after the handshake, or null for OkHttp's default
   * (the URL's host against the certificate's names). In {@code pki} mode with a server name, that
   * name against the certificate's names; in {@code shared} mode, that the certificate is the
   * cluster certificate.
   */
  @Nullable HostnameVerifier hostnameVerifier() {
    if (mode == Mode.SHARED) {
      String pinned = PemMaterial.sha256Fingerprint(certificateChain.get(0));
      return (host, session) -> pinned.equals(peerSha256(session));
    }
    String name = serverName;
    if (name == null) {
      return null;
    }
    return (host, session) -> OkHostnameVerifier.INSTANCE.verify(name, session);
  }

  private static @Nullable String peerSha256(SSLSession session) {
    try {
      Certificate[] peer = session.getPeerCertificates();
      return peer.length > 0 && peer[0] instanceof X509Certificate leaf
          ? PemMaterial.sha256Fingerprint(leaf)
          : null;
    } catch (SSLPeerUnverifiedException e) {
      return null;
    }
  }

  /** The key manager (this node's identity), for tests. */
  X509ExtendedKeyManager keyManager() {
    return keyManager;
  }

  /** Whether {@code other} presents the same identity and trusts the same certificates. */
  boolean sameMaterialAs(TlsConfig other) {
    return mode == other.mode
        && certificateChain.equals(other.certificateChain)
        && trustedCertificates.equals(other.trustedCertificates)
        && Arrays.equals(privateKey.getEncoded(), other.privateKey.getEncoded());
  }

  /** Describes the mode, identity, trust, server name and files; never the key or passphrase. */
  @Override
  public String toString() {
    X509Certificate leaf = certificateChain.get(0);
    return "TlsConfig[mode="
        + mode.name().toLowerCase(java.util.Locale.ROOT)
        + ", identity="
        + leaf.getSubjectX500Principal().getName()
        + " ("
        + privateKey.getAlgorithm()
        + (mode == Mode.SHARED ? ", sha256 " + PemMaterial.sha256Fingerprint(leaf) : "")
        + ")"
        + (mode == Mode.PKI
            ? ", cas="
                + trustedCertificates.stream()
                    .map(c -> c.getSubjectX500Principal().getName())
                    .collect(Collectors.joining("; ", "[", "]"))
            : "")
        + (serverName == null ? "" : ", serverName=" + serverName)
        + (sourcePaths.isEmpty() ? "" : ", files=" + sourcePaths)
        + "]";
  }
}
