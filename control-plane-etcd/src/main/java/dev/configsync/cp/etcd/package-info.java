/**
 * A highly available control plane on etcd: {@link dev.configsync.cp.etcd.EtcdConfigStore} is the
 * configuration store and fleet directory that several control plane replicas share. See {@code
 * docs/high-availability.md}.
 */
@NullMarked
package dev.configsync.cp.etcd;

import org.jspecify.annotations.NullMarked;
