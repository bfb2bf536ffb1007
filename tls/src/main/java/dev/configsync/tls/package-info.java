/**
 * PEM certificate and key handling shared by the data plane's transport and the control plane, so
 * both sides read the same file formats and fail with the same messages. Not API: may change in any
 * release.
 */
@NullMarked
package dev.configsync.tls;

import org.jspecify.annotations.NullMarked;
