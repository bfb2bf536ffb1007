package dev.configsync.testkit;

import java.net.InetSocketAddress;
import java.util.Set;
import java.util.concurrent.ExecutorService;

/**
 * What every connection of one {@link FaultProxy} shares: where to forward, the proxy's threads,
 * its faults and counters, the set of open connections, and the prefix of its thread names ({@code
 * fault-proxy-PORT}).
 */
record ProxyContext(
    InetSocketAddress target,
    ExecutorService threads,
    FaultSwitch faults,
    ProxyCounters counters,
    Set<ProxyConnection> open,
    String threadName) {}
