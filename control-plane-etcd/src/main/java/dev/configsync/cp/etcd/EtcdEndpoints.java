package dev.configsync.cp.etcd;

import io.grpc.Attributes;
import io.grpc.EquivalentAddressGroup;
import io.grpc.NameResolver;
import io.grpc.NameResolverProvider;
import io.grpc.NameResolverRegistry;
import io.grpc.StatusOr;
import java.net.InetSocketAddress;
import java.net.SocketAddress;
import java.net.URI;
import java.util.ArrayList;
import java.util.Collection;
import java.util.List;
import org.jspecify.annotations.Nullable;

/**
 * The etcd members of one store as the addresses of one gRPC channel: a target {@code
 * configsync-etcd:///host:port,host:port} resolves to every member, each with its own authority (so
 * TLS checks each member's certificate against its own host name). The channel's load balancer then
 * spreads calls over the members it is connected to and leaves out the ones it cannot reach: that
 * is the store's failover.
 */
final class EtcdEndpoints extends NameResolverProvider {
  static final String SCHEME = "configsync-etcd";
  private static final EtcdEndpoints INSTANCE = new EtcdEndpoints();

  static {
    NameResolverRegistry.getDefaultRegistry().register(INSTANCE);
  }

  private EtcdEndpoints() {}

  /** The channel target naming {@code endpoints}; registers this resolver first. */
  static String target(List<URI> endpoints) {
    List<String> hostPorts = new ArrayList<>();
    for (URI e : endpoints) {
      hostPorts.add(e.getHost() + ":" + port(e));
    }
    return SCHEME + ":///" + String.join(",", hostPorts);
  }

  private static int port(URI endpoint) {
    if (endpoint.getPort() > 0) {
      return endpoint.getPort();
    }
    return "https".equals(endpoint.getScheme()) ? 443 : 80;
  }

  @Override
  protected boolean isAvailable() {
    return true;
  }

  @Override
  protected int priority() {
    return 5;
  }

  @Override
  public String getDefaultScheme() {
    return SCHEME;
  }

  @Override
  public Collection<Class<? extends SocketAddress>> getProducedSocketAddressTypes() {
    return List.of(InetSocketAddress.class);
  }

  @Override
  public @Nullable NameResolver newNameResolver(URI target, NameResolver.Args args) {
    if (!SCHEME.equals(target.getScheme())) {
      return null;
    }
    String path = target.getPath() == null ? "" : target.getPath();
    List<EquivalentAddressGroup> groups = new ArrayList<>();
    for (String hostPort : path.substring(path.startsWith("/") ? 1 : 0).split(",", -1)) {
      int colon = hostPort.lastIndexOf(':');
      String host = hostPort.substring(0, colon);
      int port = Integer.parseInt(hostPort.substring(colon + 1));
      groups.add(
          new EquivalentAddressGroup(
              new InetSocketAddress(host, port),
              Attributes.newBuilder()
                  .set(EquivalentAddressGroup.ATTR_AUTHORITY_OVERRIDE, hostPort)
                  .build()));
    }
    String authority = groups.isEmpty() ? "etcd" : path.substring(1).split(",", -1)[0];
    return new NameResolver() {
      @Override
      public String getServiceAuthority() {
        return authority;
      }

      @Override
      public void start(Listener2 listener) {
        listener.onResult(
            ResolutionResult.newBuilder().setAddressesOrError(StatusOr.fromValue(groups)).build());
      }

      @Override
      public void shutdown() {}
    };
  }
}
