package dev.configsync.spring.gateway;

import dev.configsync.ConfigSnapshot;
import dev.configsync.ConfigSyncClient;
import dev.configsync.routes.KongRoutes;
import java.util.List;
import java.util.Objects;
import java.util.Optional;
import java.util.concurrent.atomic.AtomicLong;
import org.jspecify.annotations.Nullable;
import org.slf4j.Logger;
import org.slf4j.LoggerFactory;
import org.springframework.cloud.gateway.event.RefreshRoutesEvent;
import org.springframework.cloud.gateway.route.RouteDefinition;
import org.springframework.cloud.gateway.route.RouteDefinitionLocator;
import org.springframework.context.ApplicationEventPublisher;
import org.springframework.context.event.EventListener;
import reactor.core.publisher.Flux;

/**
 * Spring Cloud Gateway's routes from the configuration the client runs: its services and routes
 * (the Kong subset of {@code docs/spring.md}) become route definitions. When the client starts
 * running a configuration whose routes differ from those the gateway has, a {@link
 * RefreshRoutesEvent} makes the gateway reload them; a configuration that changes nothing the
 * routes are made of (plugins, consumers, licenses) refreshes nothing.
 *
 * <p>A configuration this locator cannot turn into routes never runs: {@link RoutesValidator}
 * refuses it first, so the client keeps the last good one. Thread-safe: the gateway reads the
 * routes on its threads, the client delivers configurations on its listener thread.
 */
public final class ConfigSyncRouteDefinitionLocator implements RouteDefinitionLocator {
  private static final Logger log = LoggerFactory.getLogger(ConfigSyncRouteDefinitionLocator.class);

  private record Built(String hash, List<RouteDefinition> routes) {}

  private final ConfigSyncClient client;
  private final ApplicationEventPublisher publisher;
  private final AtomicLong refreshes = new AtomicLong();
  private @Nullable Built built;
  private @Nullable List<RouteDefinition> served;

  /** Routes from {@code client}'s configuration; refresh events go to {@code publisher}. */
  public ConfigSyncRouteDefinitionLocator(
      ConfigSyncClient client, ApplicationEventPublisher publisher) {
    this.client = Objects.requireNonNull(client, "client");
    this.publisher = Objects.requireNonNull(publisher, "publisher");
  }

  @Override
  public Flux<RouteDefinition> getRouteDefinitions() {
    return Flux.defer(() -> Flux.fromIterable(serve()));
  }

  private synchronized List<RouteDefinition> serve() {
    Optional<ConfigSnapshot> current = client.current();
    List<RouteDefinition> routes = current.isPresent() ? routesOf(current.get()) : List.of();
    served = routes;
    return routes;
  }

  /**
   * Called with each configuration the client starts running: asks the gateway to reload its routes
   * when they changed.
   */
  @EventListener
  public void onSnapshot(ConfigSnapshot snapshot) {
    boolean changed;
    synchronized (this) {
      List<RouteDefinition> routes = routesOf(snapshot);
      changed = served != null && !routes.equals(served);
    }
    if (changed) {
      refreshes.incrementAndGet();
      log.info("configsync: configuration {} changes the routes; refreshing", snapshot.hash());
      publisher.publishEvent(new RefreshRoutesEvent(this));
    }
  }

  /** How many times a configuration made the gateway reload its routes. */
  public long refreshes() {
    return refreshes.get();
  }

  private List<RouteDefinition> routesOf(ConfigSnapshot snapshot) {
    Built b = built;
    if (b != null && b.hash().equals(snapshot.hash())) {
      return b.routes();
    }
    List<RouteDefinition> routes;
    try {
      routes = GatewayRouteDefinitions.of(KongRoutes.from(snapshot.hash(), snapshot.config()));
    } catch (IllegalArgumentException e) {
      // Only a configuration that ran without the validator (a user's own client) gets here.
      log.warn(
          "configsync: configuration {} cannot be turned into routes ({}); keeping the last"
              + " routes",
          snapshot.hash(),
          e.getMessage());
      return b == null ? List.of() : b.routes();
    }
    built = new Built(snapshot.hash(), routes);
    return routes;
  }
}
