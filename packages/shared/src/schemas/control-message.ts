import { z } from 'zod';

/** Messages a client may broadcast to every worker through `POST /admin/broadcast`. */
export const broadcastMessageSchema = z.discriminatedUnion('type', [
  z
    .object({
      type: z.literal('invalidate-model-cache'),
      model: z.string().min(1).max(200).optional().describe('the model whose cached state to drop; every model when omitted'),
    })
    .strict(),
  z.object({ type: z.literal('reload-config') }).strict().describe('re-read the settings kept in Redis (paused queues and stages)'),
]);
export type BroadcastMessage = z.output<typeof broadcastMessageSchema>;

/** Everything on the control channel: broadcasts, plus what the API sends on its own. */
export const controlMessageSchema = z.discriminatedUnion('type', [
  ...broadcastMessageSchema.options,
  z.object({ type: z.literal('cancel'), job_id: z.string(), queue: z.string().optional() }),
  z.object({ type: z.literal('pause-changed'), queue: z.string() }),
  // A hint that a job of `queue` waits for a run_at `due_in_ms` from now (see Maintenance.wakeFor).
  z.object({ type: z.literal('delayed'), queue: z.string(), due_in_ms: z.number().min(0) }),
]);
export type ControlMessage = z.output<typeof controlMessageSchema>;
