package dev.configsync.cache;

import static java.nio.file.StandardOpenOption.WRITE;

import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.attribute.FileAttribute;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.ArrayList;
import java.util.Arrays;
import java.util.List;
import java.util.Optional;
import java.util.zip.CRC32C;

/**
 * The file format of {@code config.journal}: the changes appended to one {@code config.json.gz}.
 * Not thread-safe: {@link FileSnapshotStore} serializes calls.
 *
 * <pre>
 * header: "CSJ1" (4 bytes) | SHA-256 of the payload it belongs to (32) | CRC32C of those 36 (4)
 * record: length n (u32, big-endian) | CRC32C of the length's 4 bytes and the data (u32) | data (n)
 * </pre>
 *
 * <p>The header binds the journal to one payload: its SHA-256 (of the payload as given to {@link
 * FileSnapshotStore#write}, before encryption, so re-encrypting the cache keeps its journal). A
 * record is written in place at the end of the last good record and forced to disk before {@link
 * FileSnapshotStore#append} returns; a record torn by a crash, or damaged later, fails its length
 * or CRC and ends the journal there.
 */
final class JournalFile {
  static final int HEADER_BYTES = 40;
  static final int RECORD_OVERHEAD = 8;
  private static final byte[] MAGIC = {'C', 'S', 'J', '1'};
  private static final int DIGEST_BYTES = 32;

  /** The records of a journal, and where the good part of the file ends. */
  record Contents(List<byte[]> records, long goodLength, long fileLength) {
    boolean cut() {
      return goodLength < fileLength;
    }
  }

  private JournalFile() {}

  /** The SHA-256 of {@code payload}: what binds a journal to it. */
  static byte[] digest(byte[] payload) {
    try {
      return MessageDigest.getInstance("SHA-256").digest(payload);
    } catch (NoSuchAlgorithmException e) {
      throw new IllegalStateException("every JVM has SHA-256", e);
    }
  }

  /** A new journal's header followed by its first record. */
  static byte[] headerAndRecord(byte[] payloadDigest, byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(HEADER_BYTES + RECORD_OVERHEAD + data.length);
    b.put(MAGIC).put(payloadDigest);
    b.putInt((int) crc(b.array(), 0, MAGIC.length + DIGEST_BYTES));
    putRecord(b, data);
    return b.array();
  }

  /** One record. */
  static byte[] record(byte[] data) {
    ByteBuffer b = ByteBuffer.allocate(RECORD_OVERHEAD + data.length);
    putRecord(b, data);
    return b.array();
  }

  private static void putRecord(ByteBuffer b, byte[] data) {
    CRC32C crc = new CRC32C();
    crc.update(ByteBuffer.allocate(4).putInt(0, data.length));
    crc.update(data);
    b.putInt(data.length);
    b.putInt((int) crc.getValue());
    b.put(data);
  }

  /**
   * Reads the journal at {@code path} if it belongs to the payload with {@code payloadDigest}.
   *
   * @return empty when there is no journal, or it belongs to another payload (or its header is
   *     damaged: then it cannot be told apart from another payload's); else its good records
   * @throws IOException when it cannot be read or is larger than {@code limit}
   */
  static Optional<Contents> read(Path path, byte[] payloadDigest, long limit) throws IOException {
    Optional<byte[]> raw =
        AtomicFiles.readBounded(path, limit, "delete it (the node then starts on config.json.gz)");
    if (raw.isEmpty()) {
      return Optional.empty();
    }
    byte[] file = raw.get();
    ByteBuffer b = ByteBuffer.wrap(file);
    if (file.length < HEADER_BYTES
        || !Arrays.equals(file, 0, MAGIC.length, MAGIC, 0, MAGIC.length)
        || !Arrays.equals(
            file, MAGIC.length, MAGIC.length + DIGEST_BYTES, payloadDigest, 0, DIGEST_BYTES)
        || b.getInt(MAGIC.length + DIGEST_BYTES)
            != (int) crc(file, 0, MAGIC.length + DIGEST_BYTES)) {
      return Optional.empty();
    }
    List<byte[]> records = new ArrayList<>();
    int at = HEADER_BYTES;
    while (file.length - at >= RECORD_OVERHEAD) {
      int length = b.getInt(at);
      if (length < 0 || length > file.length - at - RECORD_OVERHEAD) {
        break; // torn (or a damaged length)
      }
      CRC32C crc = new CRC32C();
      crc.update(file, at, 4);
      crc.update(file, at + RECORD_OVERHEAD, length);
      if (b.getInt(at + 4) != (int) crc.getValue()) {
        break;
      }
      records.add(Arrays.copyOfRange(file, at + RECORD_OVERHEAD, at + RECORD_OVERHEAD + length));
      at += RECORD_OVERHEAD + length;
    }
    return Optional.of(new Contents(List.copyOf(records), at, file.length));
  }

  /**
   * Writes {@code bytes} at {@code offset} of the existing journal and forces them to disk (data
   * and the file's size, not its times), so they survive a crash when this returns.
   */
  static void writeAt(Path path, long offset, byte[] bytes) throws IOException {
    try (FileChannel channel = FileChannel.open(path, WRITE)) {
      ByteBuffer buffer = ByteBuffer.wrap(bytes);
      long position = offset;
      while (buffer.hasRemaining()) {
        position += channel.write(buffer, position);
      }
      channel.force(false);
    }
  }

  /** Cuts the journal at {@code length}, durably. */
  static void truncate(Path path, long length) throws IOException {
    try (FileChannel channel = FileChannel.open(path, WRITE)) {
      channel.truncate(length);
      channel.force(false);
    }
  }

  /** Creates the journal with its header and first record, atomically and durably. */
  static void create(
      Path path,
      byte[] payloadDigest,
      byte[] data,
      FileAttribute<?>[] attributes,
      AtomicFiles.BeforeRename beforeRename)
      throws IOException {
    AtomicFiles.write(path, headerAndRecord(payloadDigest, data), attributes, beforeRename);
  }

  /** Deletes the journal, durably; whether there was one. */
  static boolean delete(Path path) throws IOException {
    Path directory = path.toAbsolutePath().getParent();
    boolean deleted = Files.deleteIfExists(path);
    if (deleted && directory != null) {
      AtomicFiles.syncDirectory(directory);
    }
    return deleted;
  }

  private static long crc(byte[] bytes, int from, int length) {
    CRC32C crc = new CRC32C();
    crc.update(bytes, from, length);
    return crc.getValue();
  }
}
