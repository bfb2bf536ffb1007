/**
 * Issuing configsync licenses: Ed25519 key pairs in PEM, signing license terms into a license
 * document, and placing a document in a configuration as a control plane publishes it. A data plane
 * only verifies; this package is for control planes, tooling and tests.
 */
@NullMarked
package dev.configsync.license;

import org.jspecify.annotations.NullMarked;
