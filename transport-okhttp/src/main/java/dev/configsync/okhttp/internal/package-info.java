/**
 * Frame codec and TLS plumbing of the OkHttp transport. Not API: may change in any release; shared
 * with the testkit.
 */
@NullMarked
package dev.configsync.okhttp.internal;

import org.jspecify.annotations.NullMarked;
