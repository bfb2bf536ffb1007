/**
 * Issuing configsync licenses: Ed25519 key pairs in PEM, signing a {@link dev.configsync.License}
 * into a license document, and placing a document in a configuration as a control plane publishes
 * it. This package is the artifact {@code configsync-license-issuer}, apart from {@code
 * configsync-core}: a data plane only verifies licenses (with the public key) and never carries the
 * code that issues them. For vendors, control planes, tooling and tests.
 */
@NullMarked
package dev.configsync.license;

import org.jspecify.annotations.NullMarked;
