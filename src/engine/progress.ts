/**
 * Recording progress for people watching work that a record tracks (a CopyStep's bytes, a verification's): only the
 * newest value is written, one write at a time, at most one every `intervalMs` (DISKDELTA_PROGRESS_SECONDS). Progress
 * is never what decides anything, so the writer gives up rather than fight: a write that says the record is someone
 * else's now (an ETag conflict) stops it for good.
 */

/** The newest progress of some work, written now and then. */
export interface ProgressWriter<T> {
  /** The work moved on to `value`; written when a write is due and none is in flight. */
  offer(value: T): void;
  /** No more writes; waits for the one in flight. */
  stop(): Promise<void>;
}

/**
 * `write` records a value and answers false when it may not write any more (the record moved on without it). It
 * must not throw: a write that failed otherwise is the caller's to log, and the next value tries again.
 */
export function createProgressWriter<T>(intervalMs: number, write: (value: T) => Promise<boolean>, now: () => number = Date.now): ProgressWriter<T> {
  let lastWriteAt = now();
  let pending: { value: T } | undefined;
  let writing: Promise<void> | undefined;
  let stopped = false;
  const writeIfDue = () => {
    if (stopped || writing || !pending || now() - lastWriteAt < intervalMs) return;
    const { value } = pending;
    pending = undefined;
    writing = write(value)
      .then((mayGoOn) => {
        if (!mayGoOn) stopped = true;
      })
      .finally(() => {
        lastWriteAt = now();
        writing = undefined;
        writeIfDue();
      });
  };
  return {
    offer(value) {
      pending = { value };
      writeIfDue();
    },
    async stop() {
      stopped = true;
      await writing;
    },
  };
}
