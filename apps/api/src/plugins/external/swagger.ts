import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import fp from 'fastify-plugin';
import { jsonSchemaTransform, jsonSchemaTransformObject } from 'fastify-type-provider-zod';
import type { z } from 'zod';
import { tidyIntegerSchemas } from '../../openapi/integer-schemas.js';
import { describeNonJsonAnswers } from '../../openapi/non-json-answers.js';
import type { Document } from '../../openapi/operations.js';
import { addProblemAnswers } from '../../openapi/problem-answers.js';
import { addRequestExamples } from '../../openapi/request-examples.js';
import { describeRequests } from '../../openapi/request-parameters.js';
import { describeSuccesses } from '../../openapi/success-answers.js';
import { formFieldsStartEmpty } from '../../openapi/swagger-ui-forms.js';
import { markTimestamps } from '../../openapi/timestamps.js';
import { documentUploadSchema } from '../../schemas/document-upload.js';
import { isAdminRoute } from '../admin-auth.js';

/**
 * The OpenAPI document, generated from the routes' zod schemas: JSON at `/openapi.json`,
 * Swagger UI at `/docs`. Multipart bodies are not validated by a schema (the route reads the
 * stream), so the upload form is added to the document here. Every operation has an
 * `operationId` (its method name in generated clients) and its `security`: the bearer token for
 * admin operations, none for the rest. What the routes' schemas cannot say (answers that are not
 * JSON, headers, the statuses the framework itself answers with) is added to the document by the
 * rules in `src/openapi/`.
 */
export default fp(
  async (app) => {
    // Operations whose body schema takes no body at all: the document marks their bodies optional.
    const optionalBodies = new Set<string>();
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
          { name: 'health', description: 'Probes and metrics' },
          { name: 'problems', description: 'What each problem `type` means and what to do about it' },
        ],
        components: {
          securitySchemes: { adminToken: { type: 'http', scheme: 'bearer', description: 'The ADMIN_TOKEN the API was started with.' } },
        },
      },
      transform: (input) => {
        const output = jsonSchemaTransform(input);
        const body = input.schema?.body as z.ZodType | undefined;
        if (body?.safeParse(undefined).success) optionalBodies.add(String(input.schema?.operationId));
        // Admin routes say so, so Swagger UI's Authorize and generated clients send the token;
        // every other route says it needs none.
        return { ...output, schema: { ...output.schema, security: isAdminRoute(app, input.route) ? [{ adminToken: [] }] : [] } };
      },
      transformObject: (document) => {
        const openapi = jsonSchemaTransformObject(document) as Document;
        const upload = openapi.paths?.['/documents']?.post;
        if (upload) upload.requestBody = { required: true, content: { 'multipart/form-data': { schema: documentUploadSchema } } };
        describeRequests(openapi, optionalBodies);
        addRequestExamples(openapi);
        describeNonJsonAnswers(openapi);
        describeSuccesses(openapi);
        addProblemAnswers(openapi);
        markTimestamps(openapi);
        tidyIntegerSchemas(openapi);
        return openapi;
      },
    });
    // In place of @fastify/swagger-ui's plugins, DownloadUrl, which Swagger UI's base preset has too.
    await app.register(swaggerUi, { routePrefix: '/docs', uiConfig: { plugins: [formFieldsStartEmpty] } });
    app.get('/openapi.json', { schema: { hide: true } }, async () => app.swagger());
  },
  { name: 'swagger' },
);
