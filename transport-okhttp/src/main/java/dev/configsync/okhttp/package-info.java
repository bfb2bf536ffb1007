/** The OkHttp transport: mutual TLS WebSocket connection to a control plane. */
@NullMarked
package dev.configsync.okhttp;

import org.jspecify.annotations.NullMarked;
