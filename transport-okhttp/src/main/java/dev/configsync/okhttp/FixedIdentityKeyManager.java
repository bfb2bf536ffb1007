package dev.configsync.okhttp;

import java.net.Socket;
import java.security.Principal;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.SSLEngine;
import javax.net.ssl.X509ExtendedKeyManager;
import org.jspecify.annotations.Nullable;

/**
 * Holds exactly one identity and presents it whenever its key type fits, whatever CAs the peer says
 * it accepts.
 *
 * <p>The JDK's own key manager sends no certificate at all when the control plane's list of
 * acceptable CAs does not name the node's issuer; the control plane then reports a missing
 * certificate instead of the real problem. Presenting it always (as Kong's data planes do) lets the
 * control plane say what is wrong with it.
 */
final class FixedIdentityKeyManager extends X509ExtendedKeyManager {
  static final String ALIAS = "configsync";

  private final X509Certificate[] chain;
  private final PrivateKey key;

  FixedIdentityKeyManager(List<X509Certificate> chain, PrivateKey key) {
    this.chain = chain.toArray(new X509Certificate[0]);
    this.key = key;
  }

  private boolean fits(@Nullable String keyType) {
    // Key types are "RSA", "EC", "RSASSA-PSS", or for TLS 1.2 ECDH forms like "EC_EC".
    String algorithm = key.getAlgorithm();
    return keyType != null
        && (keyType.equals(algorithm)
            || keyType.startsWith(algorithm + "_")
            || (algorithm.equals("RSA") && keyType.equals("RSASSA-PSS")));
  }

  private @Nullable String choose(String @Nullable [] keyTypes) {
    if (keyTypes != null) {
      for (String keyType : keyTypes) {
        if (fits(keyType)) {
          return ALIAS;
        }
      }
    }
    return null;
  }

  @Override
  public String @Nullable [] getClientAliases(String keyType, Principal @Nullable [] issuers) {
    return fits(keyType) ? new String[] {ALIAS} : null;
  }

  @Override
  public @Nullable String chooseClientAlias(
      String @Nullable [] keyTypes, Principal @Nullable [] issuers, @Nullable Socket socket) {
    return choose(keyTypes);
  }

  @Override
  public @Nullable String chooseEngineClientAlias(
      String @Nullable [] keyTypes, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
    return choose(keyTypes);
  }

  @Override
  public String @Nullable [] getServerAliases(String keyType, Principal @Nullable [] issuers) {
    return getClientAliases(keyType, issuers);
  }

  @Override
  public @Nullable String chooseServerAlias(
      String keyType, Principal @Nullable [] issuers, @Nullable Socket socket) {
    return fits(keyType) ? ALIAS : null;
  }

  @Override
  public @Nullable String chooseEngineServerAlias(
      String keyType, Principal @Nullable [] issuers, @Nullable SSLEngine engine) {
    return fits(keyType) ? ALIAS : null;
  }

  @Override
  public X509Certificate @Nullable [] getCertificateChain(@Nullable String alias) {
    return ALIAS.equals(alias) ? chain.clone() : null;
  }

  @Override
  public @Nullable PrivateKey getPrivateKey(@Nullable String alias) {
    return ALIAS.equals(alias) ? key : null;
  }
}
