package dev.configsync;

import dev.configsync.spi.SnapshotStore;
import java.util.ArrayList;
import java.util.List;
import java.util.Optional;
import java.util.UUID;
import java.util.concurrent.CopyOnWriteArrayList;
import org.jspecify.annotations.Nullable;

/**
 * A {@link SnapshotStore} in memory that keeps a journal, as {@code FileSnapshotStore} does, and
 * records every state it made durable: a crash at any instant leaves one of those states (torn
 * appends are the file store's concern, tested there).
 */
final class JournalingStore implements SnapshotStore {
  /** What survives a crash: the payload and the changes appended to it. */
  @SuppressWarnings("ArrayRecordComponent") // never compared; the test reads the arrays
  record Durable(byte @Nullable [] payload, List<byte[]> journal) {}

  private final UUID nodeId = UUID.fromString("5f4a2c1e-0000-4000-8000-0000000000d2");
  private final List<Durable> history = new CopyOnWriteArrayList<>();
  private volatile Durable state;
  private volatile int writes;

  JournalingStore(Durable start) {
    state = start;
  }

  JournalingStore() {
    this(new Durable(null, List.of()));
  }

  /** The durable state now. */
  Durable state() {
    return state;
  }

  /** Every durable state after the first, oldest first. */
  List<Durable> history() {
    return history;
  }

  /** Whole writes that completed. */
  int writes() {
    return writes;
  }

  @Override
  public Optional<byte[]> read() {
    return Optional.ofNullable(state.payload());
  }

  @Override
  public synchronized void write(byte[] payload) {
    state = new Durable(payload.clone(), List.of());
    history.add(state);
    writes++;
  }

  @Override
  public synchronized boolean append(byte[] change) {
    if (state.payload() == null) {
      return false;
    }
    List<byte[]> journal = new ArrayList<>(state.journal());
    journal.add(change.clone());
    state = new Durable(state.payload(), List.copyOf(journal));
    history.add(state);
    return true;
  }

  @Override
  public List<byte[]> journal() {
    return state.journal();
  }

  @Override
  public String moveAside(String reason) {
    state = new Durable(null, List.of());
    return "memory:moved-aside";
  }

  @Override
  public UUID nodeId() {
    return nodeId;
  }

  @Override
  public String describe() {
    return "memory with journal";
  }
}
