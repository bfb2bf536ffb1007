/** Service provider interfaces: what a transport, a snapshot store or a validator implements. */
@NullMarked
package dev.configsync.spi;

import org.jspecify.annotations.NullMarked;
