/** One Server-Sent Event as the API writes it: its ID, name and JSON data. */
export interface SseEvent {
  id: string | undefined;
  event: string;
  data: Record<string, unknown>;
}

/**
 * Reads an event stream's body, calling `onEvent` with each event (comment lines, such as
 * heartbeats, are skipped), until it ends or `until` says stop; answers every event read.
 * Stopping cancels the body, so the API sees the client go.
 */
export async function readSseEvents(body: ReadableStream<Uint8Array>, { until, onEvent }: { until?: ((events: SseEvent[]) => boolean) | undefined; onEvent?: ((event: SseEvent) => void) | undefined } = {}): Promise<SseEvent[]> {
  const events: SseEvent[] = [];
  const decoder = new TextDecoder();
  let buffer = '';
  for await (const chunk of body as unknown as AsyncIterable<Uint8Array>) {
    buffer += decoder.decode(chunk, { stream: true });
    let split: number;
    while ((split = buffer.indexOf('\n\n')) >= 0) {
      const block = buffer.slice(0, split);
      buffer = buffer.slice(split + 2);
      const event = /^event: (.+)$/m.exec(block)?.[1];
      const data = /^data: (.+)$/m.exec(block)?.[1];
      if (!event || !data) continue;
      events.push({ id: /^id: (.+)$/m.exec(block)?.[1], event, data: JSON.parse(data) as Record<string, unknown> });
      onEvent?.(events.at(-1)!);
    }
    if (until?.(events)) break;
  }
  return events;
}
