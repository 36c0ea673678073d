import { z } from 'zod';

/** What is stored about an uploaded document beside its bytes. */
export const documentPayloadSchema = z.object({
  filename: z.string(),
  content_type: z.string(),
  size: z.number().int().min(1),
  sha256: z.string(),
  metadata: z.record(z.string(), z.string()).optional(),
});
export type DocumentPayload = z.output<typeof documentPayloadSchema>;
