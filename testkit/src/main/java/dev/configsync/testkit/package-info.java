/**
 * Test support for users of configsync: a scriptable control plane over real mutual TLS ({@link
 * dev.configsync.testkit.TestControlPlane}), a throwaway PKI ({@link
 * dev.configsync.testkit.TestPki}), and a TCP proxy that injects network faults ({@link
 * dev.configsync.testkit.FaultProxy}).
 */
@NullMarked
package dev.configsync.testkit;

import org.jspecify.annotations.NullMarked;
