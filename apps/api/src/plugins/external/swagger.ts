import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { OpenAPIV3 } from 'openapi-types';
import { documentUploadSchema } from '../../schemas/document-upload.js';
import { isAdminRoute } from '../admin-auth.js';

/**
 * The OpenAPI document, generated from the routes' zod schemas: JSON at `/openapi.json`,
 * Swagger UI at `/docs`. Multipart bodies are not validated by a schema (the route reads the
 * stream), so the upload form is added to the document here. Every operation has an
 * `operationId` (its method name in generated clients) and its `security`: the bearer token for
 * admin operations, none for the rest.
 */
export default fp(
  async (app) => {
    await app.register(swagger, {
      openapi: {
        openapi: '3.1.0',
        info: {
          title: 'Conveyor',
          version: '0.1.0',
          description:
            'Job ingestion on Redis Streams. Submit inference jobs and documents; workers take each job exactly once per attempt; read the outcome at GET /jobs/{id}. Errors are RFC 9457 problem details.',
        },
        tags: [
          { name: 'jobs', description: 'Submit and follow jobs' },
          { name: 'documents', description: 'Upload documents for the documents pipeline' },
          { name: 'queues', description: 'Queue statistics: backlog, workers, event counts' },
          { name: 'dead letters', description: 'Jobs that used up their attempts: inspect and retry' },
          { name: 'events', description: 'Live job events (Server-Sent Events)' },
          { name: 'admin', description: 'Operator endpoints; they exist only when ADMIN_TOKEN is set and take Authorization: Bearer <ADMIN_TOKEN>' },
          { name: 'health', description: 'Probes' },
        ],
        components: {
          securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN the API was started with.' } },
        },
      },
      transform: (input) => {
        const output = jsonSchemaTransform(input);
        // Admin routes say so, so Swagger UI's Authorize and generated clients send the token;
        // every other route says it needs none.
        return { ...output, schema: { ...output.schema, security: isAdminRoute(app, input.route) ? [{ adminToken: [] }] : [] } };
      },
      transformObject: (document) => {
        const openapi = jsonSchemaTransformObject(document) as OpenAPIV3.Document;
        const upload = openapi.paths?.['/documents']?.post;
        if (upload) upload.requestBody = { required: true, content: { 'multipart/form-data': { schema: documentUploadSchema } } };
        return openapi;
      },
    });
    await app.register(swaggerUi, { routePrefix: '/docs' });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'swagger' },
);
