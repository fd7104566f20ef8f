/**
 * WAL checkpoints off the hot path (issue 3, round-trip tail). With SQLite's automatic checkpoint
 * (every 1000 WAL pages) the unit whose COMMIT crosses the threshold also copies the WAL into the
 * database file and fsyncs it: about one message round trip in 30 paid that extra write + fsync.
 * Now the connection also checkpoints (PASSIVE) once it has been idle for about `idleMs` after a unit:
 * chat traffic comes in bursts, so the WAL is folded between them and the automatic checkpoint
 * (kept at SQLite's 1000 pages as the cap for long busy periods) is rarely reached inside a unit.
 * A larger cap was measured and dropped: with a 4000-page WAL every COMMIT got slower (p90 0.84 ->
 * 1.4 ms over 1500 round trips), which cost more than the rarer checkpoints saved.
 *
 * Tried first and dropped: a worker thread with its own connection checkpointing PASSIVE beside
 * the units. A checkpoint cannot copy frames beyond the snapshot of a transaction in progress on
 * the other connection, so under a steady stream it never caught up; the WAL could not restart and
 * grew (68 MB in 1500 round trips) and every COMMIT got slower.
 */
export interface CheckpointerOptions {
  /** Quiet time after the last unit before the checkpoint runs. */
  idleMs: number
  /** Runs `PRAGMA wal_checkpoint(PASSIVE)` on the store's connection (never inside a unit). */
  checkpoint: () => void
}

export class Checkpointer {
  readonly #o: CheckpointerOptions
  /** Units committed so far, and the count the timer saw when it last fired. */
  #units = 0
  #seen = 0
  #timer: NodeJS.Timeout | null = null
  #closed = false
  /** Idle checkpoints run so far (tests and metrics). */
  completed = 0

  constructor (opts: CheckpointerOptions) {
    this.#o = opts
  }

  /**
   * Called after every committed unit. perf: only a counter per unit; the timer (one per store,
   * unref'd) is armed by the first unit after a checkpoint and re-armed from its own callback while
   * units keep coming, so the checkpoint runs between idleMs and 2 x idleMs after the last unit.
   */
  committed (): void {
    if (this.#closed) return
    this.#units++
    if (this.#timer != null) return
    this.#seen = this.#units
    this.#timer = setTimeout(() => { this.#fire() }, this.#o.idleMs)
    // never keeps the process alive (close() checkpoints anyway)
    this.#timer.unref()
  }

  #fire (): void {
    const t = this.#timer
    if (this.#closed || t == null) return
    if (this.#units !== this.#seen) {
      // not idle yet: look again one period later
      this.#seen = this.#units
      t.refresh()
      return
    }
    this.#timer = null
    try {
      this.#o.checkpoint()
      this.completed++
    } catch {
      // busy (another connection) or I/O trouble: the next idle period or the automatic cap tries again
    }
  }

  close (): void {
    this.#closed = true
    if (this.#timer != null) clearTimeout(this.#timer)
    this.#timer = null
  }
}
