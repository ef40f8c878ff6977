/**
 * A loop a test runs beside its steps (a ledger sampler, an invariant check) until it calls `stop()`.
 * Every loop started is also stopped by {@link stopBackgroundPolls}, which suites call in `afterAll`: a test that
 * fails before its own `stop()` must not leave a loop polling a torn-down cluster and keep Jest from exiting.
 * The pause between rounds is an unref'd timer for the same reason.
 */
export interface BackgroundPoll {
  /** Ends the loop after the round in progress; resolves once it has ended. */
  stop(): Promise<void>;
}

const running = new Set<BackgroundPoll>();

/** Runs `round` every `intervalMs` (after the previous round ends) until stopped. A failing round ends the loop and fails `stop()`. */
export function backgroundPoll(round: () => Promise<void>, intervalMs: number): BackgroundPoll {
  let on = true;
  const loop = (async () => {
    while (on) {
      await round();
      await new Promise((r) => setTimeout(r, intervalMs).unref());
    }
  })();
  // Observed here so that a round failing after the test gave up is not an unhandled rejection; stop() rethrows.
  loop.catch(() => undefined);
  const poll: BackgroundPoll = {
    async stop() {
      on = false;
      running.delete(poll);
      await loop;
    },
  };
  running.add(poll);
  return poll;
}

/** Stops every loop still running (for `afterAll`), ignoring their failures. */
export async function stopBackgroundPolls(): Promise<void> {
  await Promise.all([...running].map((p) => p.stop().catch(() => undefined)));
}
