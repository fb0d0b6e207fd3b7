import type { Server } from "node:http";

/**
 * Counts HTTP responses not yet fully written (streams included), so shutdown waits for the last byte
 * of every in-flight answer, not just for the pipeline to finish.
 */
export function trackResponses(server: Server) {
  let open = 0;
  let waiters: (() => void)[] = [];
  const closed = () => {
    open--;
    if (open === 0 && waiters.length) {
      for (const wake of waiters) wake();
      waiters = [];
    }
  };
  server.on("request", (_req, res) => {
    open++;
    res.once("close", closed);
  });
  return {
    get size() {
      return open;
    },
    /** Resolves true once nothing is in flight, false if the timeout comes first. */
    drained(timeoutMs: number): Promise<boolean> {
      if (open === 0) return Promise.resolve(true);
      return new Promise<boolean>((resolve) => {
        const timer = setTimeout(() => resolve(false), timeoutMs);
        waiters.push(() => {
          clearTimeout(timer);
          resolve(true);
        });
      });
    },
  };
}
