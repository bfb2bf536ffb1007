package dev.configsync.cp;

import java.io.IOException;
import java.util.List;
import java.util.function.Supplier;

/**
 * Where the replicas of one control plane share which data planes each of them serves, so that
 * {@link ControlPlaneServer#dataPlanes()} (and {@code GET /clustering/data-planes}) on any replica
 * lists the whole fleet. {@code configsync-control-plane-etcd} has one on etcd.
 *
 * <p>Threading: {@link #start} is called once, from the thread that starts the control plane;
 * {@link #remote} from any thread, and must never block on a network. The control plane owns the
 * directory given to its builder and closes it when it closes.
 */
public interface FleetDirectory extends AutoCloseable {

  /**
   * Starts sharing this replica's data planes. {@code local} returns them (as this replica's
   * registry knows them, connected or not) and is cheap and thread-safe: the directory may call it
   * as often as it likes, from its own thread; it decides how often it writes what it reads.
   */
  void start(Supplier<List<DataPlaneInfo>> local);

  /**
   * The data planes that other replicas reported, as last heard; a replica that stopped reporting
   * (it crashed) is left out once the directory considers it gone. Never blocks.
   */
  List<DataPlaneInfo> remote();

  /** Stops sharing and releases resources. The default does nothing. */
  @Override
  default void close() throws IOException {}
}
