package dev.configsync.cp;

import java.io.IOException;
import java.util.List;
import java.util.Map;
import java.util.function.Supplier;

/**
 * Where the replicas of one control plane share which data planes each of them serves, so that
 * {@link ControlPlaneServer#dataPlanes()} (and {@code GET /clustering/data-planes}) on any replica
 * lists the whole fleet, and, optionally, the usage each of them counted, so that {@link
 * ControlPlaneServer#fleetUsage()} (and {@code GET /usage}) on any replica adds up the whole
 * fleet's. {@code configsync-control-plane-etcd} has one on etcd.
 *
 * <p>Threading: {@link #start} and {@link #shareUsage} are called once each, from the thread that
 * starts the control plane; {@link #remote} and {@link #usageByReplica} from any thread, and must
 * never block on a network. The control plane owns the directory given to its builder and closes it
 * when it closes.
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

  /**
   * Starts sharing this replica's usage figures. {@code local} returns them (what this replica
   * counted since it started) and is cheap and thread-safe; it returns the same object for as long
   * as nothing changed, so a directory can tell a change by identity. The directory decides how
   * often it writes them, and must bound that rate whatever the data planes send (never one write
   * per batch). The default shares nothing.
   */
  default void shareUsage(Supplier<UsageReport> local) {}

  /**
   * Every replica's usage figures by replica name: this replica's as {@code local} (see {@link
   * #shareUsage}) returns them now, the others' as last shared, including replicas that stopped
   * (what they counted still counts). Empty when this directory does not share usage (the default):
   * the control plane then reports its own figures only. Never blocks.
   */
  default Map<String, UsageReport> usageByReplica() {
    return Map.of();
  }

  /** Stops sharing and releases resources. The default does nothing. */
  @Override
  default void close() throws IOException {}
}
