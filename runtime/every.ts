/**
 * Runs `pass` every `everyMs` until stopped; a pass never overlaps the next, and a failed pass is reported and
 * the next one runs as usual. The stop function waits for a pass under way.
 */
export function every(everyMs: number, pass: () => Promise<unknown>, onError: (error: unknown) => void) {
  let stopped = false;
  let current: Promise<unknown> = Promise.resolve();
  let timer: NodeJS.Timeout | undefined;
  const tick = () => {
    current = pass()
      .catch(onError)
      .finally(() => {
        if (!stopped) timer = setTimeout(tick, everyMs);
      });
  };
  timer = setTimeout(tick, everyMs);
  return async () => {
    stopped = true;
    clearTimeout(timer);
    await current;
  };
}
