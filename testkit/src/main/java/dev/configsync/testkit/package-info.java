/**
 * Test support for users of configsync: a scriptable control plane over real mutual TLS and a
 * throwaway PKI.
 */
@NullMarked
package dev.configsync.testkit;

import org.jspecify.annotations.NullMarked;
