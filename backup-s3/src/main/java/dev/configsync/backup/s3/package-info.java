/** A backup store on Amazon S3 and S3-compatible object stores. */
@NullMarked
package dev.configsync.backup.s3;

import org.jspecify.annotations.NullMarked;
