/** One Server-Sent Event as a client sees it; a comment line (`: heartbeat`) is one too. */
export interface SseEvent {
  event?: string;
  id?: string;
  data?: string;
  comment?: string;
  at: number;
}

/** A Server-Sent Events stream read as a browser's EventSource would, keeping every event and comment. */
export async function openStream(url: string, headers: Record<string, string>) {
  const controller = new AbortController();
  const response = await fetch(url, {
    headers: { accept: 'text/event-stream', ...headers },
    signal: controller.signal,
  });
  const events: SseEvent[] = [];
  const waiters = new Set<() => void>();
  const reading = (async () => {
    if (!response.body || !response.ok) return;
    const reader = response.body.pipeThrough(new TextDecoderStream()).getReader();
    let buffer = '';
    for (;;) {
      const { value, done } = await reader.read().catch(() => ({ value: undefined, done: true }));
      if (done) return;
      buffer += value;
      for (let end = buffer.indexOf('\n\n'); end >= 0; end = buffer.indexOf('\n\n')) {
        const block = buffer.slice(0, end);
        buffer = buffer.slice(end + 2);
        const event: SseEvent = { at: Date.now() };
        for (const line of block.split('\n')) {
          const [field, ...rest] = line.split(':');
          const text = rest.join(':').replace(/^ /, '');
          if (field === '') event.comment = text;
          else if (field === 'event') event.event = text;
          else if (field === 'id') event.id = text;
          else if (field === 'data') event.data = event.data === undefined ? text : `${event.data}\n${text}`;
        }
        events.push(event);
        for (const wake of waiters) wake();
      }
    }
  })();
  return {
    status: response.status,
    events,
    /** The first event (from `from` on) that matches, waiting up to `timeoutMs` for it. */
    async next(matches: (event: SseEvent) => boolean, timeoutMs = 5000, from = 0): Promise<SseEvent> {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const found = events.slice(from).find(matches);
        if (found) return found;
        const left = deadline - Date.now();
        if (left <= 0) throw new Error(`no matching event in ${timeoutMs} ms; got ${JSON.stringify(events)}`);
        await new Promise<void>((resolve) => {
          const timer = setTimeout(resolve, left);
          waiters.add(() => {
            clearTimeout(timer);
            resolve();
          });
        });
        waiters.clear();
      }
    },
    async close() {
      controller.abort();
      await reading;
    },
  };
}
