package dev.configsync.cp.etcd;

import dev.configsync.tls.PemMaterial;
import java.io.IOException;
import java.nio.file.Path;
import java.security.GeneralSecurityException;
import java.security.KeyStore;
import java.security.PrivateKey;
import java.security.cert.X509Certificate;
import java.util.List;
import javax.net.ssl.KeyManagerFactory;
import javax.net.ssl.SSLContext;
import javax.net.ssl.TrustManagerFactory;
import org.jspecify.annotations.Nullable;

/** Builds the {@link SSLContext} for etcd's {@code https://} client URLs from PEM files. */
final class EtcdTls {
  private static final char[] NO_PASSWORD = new char[0];

  private EtcdTls() {}

  /**
   * Trusts only the certificates in {@code caFile}; presents the chain in {@code certFile} with the
   * key in {@code keyFile} when they are given (etcd's {@code --client-cert-auth}).
   *
   * @throws IllegalArgumentException naming the file that cannot be read or used
   */
  static SSLContext context(Path caFile, @Nullable Path certFile, @Nullable Path keyFile) {
    try {
      KeyStore trusted = KeyStore.getInstance(KeyStore.getDefaultType());
      trusted.load(null, null);
      List<X509Certificate> cas =
          PemMaterial.certificates(PemMaterial.readFile(caFile), caFile.toString());
      for (int i = 0; i < cas.size(); i++) {
        trusted.setCertificateEntry("ca-" + i, cas.get(i));
      }
      TrustManagerFactory tmf =
          TrustManagerFactory.getInstance(TrustManagerFactory.getDefaultAlgorithm());
      tmf.init(trusted);
      KeyManagerFactory kmf = null;
      if (certFile != null && keyFile != null) {
        List<X509Certificate> chain =
            PemMaterial.certificates(PemMaterial.readFile(certFile), certFile.toString());
        PrivateKey key = PemMaterial.privateKey(PemMaterial.readFile(keyFile), keyFile.toString());
        PemMaterial.checkKeyMatchesLeaf(chain, key, certFile.toString(), keyFile.toString());
        KeyStore own = KeyStore.getInstance(KeyStore.getDefaultType());
        own.load(null, null);
        own.setKeyEntry("client", key, NO_PASSWORD, chain.toArray(new X509Certificate[0]));
        kmf = KeyManagerFactory.getInstance(KeyManagerFactory.getDefaultAlgorithm());
        kmf.init(own, NO_PASSWORD);
      }
      SSLContext context = SSLContext.getInstance("TLS");
      context.init(kmf == null ? null : kmf.getKeyManagers(), tmf.getTrustManagers(), null);
      return context;
    } catch (GeneralSecurityException | IOException e) {
      throw new IllegalArgumentException(
          "cannot build TLS for etcd from " + caFile + ": " + e.getMessage(), e);
    }
  }
}
