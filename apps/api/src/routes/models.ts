import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';

const modelsSchema = z.object({
  models: z.array(
    z.object({
      name: z.string(),
      kind: z.enum(['builtin', 'chat', 'embedding']).describe('builtin runs in the worker; chat and embedding go to OPENAI_BASE_URL'),
      description: z.string(),
      params: z.array(z.string()).describe('the `params` keys the model reads; POST /jobs refuses any other'),
    }),
  ),
});

/** `GET /models`: what `POST /jobs` accepts in `model`. */
const modelsRoutes: FastifyPluginAsyncZod = async (app) => {
  app.get('/models', { schema: { tags: ['jobs'], operationId: 'listModels', summary: 'The models POST /jobs accepts', response: { 200: modelsSchema } } }, async () => ({ models: app.jobs.models }));
};

export default modelsRoutes;
