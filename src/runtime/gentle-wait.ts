// Node only: waiting for the GPU without spinning a CPU core. While a Dawn promise (mapAsync, onSubmittedWorkDone,
// popErrorScope) is pending, dawn.node polls for its completion on every turn of the event loop (setImmediate),
// which keeps the main thread 75% busy for the whole wait. On a CPU adapter that core is one the
// adapter's own threads needed: lavapipe ran a training step with one of the two cores here. So after a short
// grace period for quick completions, each turn of the event loop sleeps a little (Atomics.wait: the thread
// blocks, using no CPU) until the promise settles: Dawn still polls, a few hundred times a second instead of
// continuously.

/** Turns within this many milliseconds of the start run unthrottled (GPU readbacks that finish quickly). */
const GRACE_MS = 2;
/** Sleep per event-loop turn afterwards: the most a wait's end can be noticed late. */
const NAP_MS = 1;

const nap = new Int32Array(new SharedArrayBuffer(4));

export function waitGently<T>(promise: Promise<T>): Promise<T> {
  let settled = false;
  const start = performance.now();
  const turn = () => {
    if (settled) return;
    if (performance.now() - start > GRACE_MS) Atomics.wait(nap, 0, 0, NAP_MS);
    setImmediate(turn);
  };
  setImmediate(turn);
  return promise.finally(() => {
    settled = true;
  });
}
