import { redisTest as test } from '@conveyor/testing';
import { expect } from 'vitest';
import { buildTestApp } from './test-app.js';

test('the OpenAPI document describes every route, from the same schemas that validate requests', async ({ redisUrl, prefix }) => {
  const app = await buildTestApp(redisUrl, prefix);
  try {
    const response = await app.inject({ url: '/openapi.json' });
    expect(response.statusCode).toBe(200);
    const openapi = response.json();
    expect(openapi.openapi).toBe('3.1.0');
    expect(Object.keys(openapi.paths)).toEqual(expect.arrayContaining(['/jobs', '/jobs/{id}', '/documents', '/healthz', '/readyz']));
    const createJob = openapi.paths['/jobs'].post;
    const body = createJob.requestBody.content['application/json'].schema;
    expect(body.required).toContain('model');
    expect(body.properties.priority.enum).toEqual(['high', 'normal', 'low']);
    expect(Object.keys(createJob.responses)).toEqual(expect.arrayContaining(['202', '400', '413', '415', '422', '503']));
    const upload = openapi.paths['/documents'].post.requestBody.content['multipart/form-data'].schema;
    expect(upload.required).toEqual(['file']);
    expect(upload.properties.file).toMatchObject({ type: 'string', format: 'binary' });
    expect(upload.properties.priority.enum).toEqual(['high', 'normal', 'low']);
    const job = openapi.paths['/jobs/{id}'].get.responses['200'].content['application/json'].schema;
    expect(job.required).toEqual(expect.arrayContaining(['id', 'queue', 'status', 'attempts', 'worker', 'result', 'error', 'created_at', 'started_at', 'finished_at']));

    // Every operation is named for generated clients, once; admin ones ask for the bearer token.
    const operations = Object.values(openapi.paths).flatMap((ops) => Object.values(ops as Record<string, { operationId?: string; tags: string[]; security: unknown }>));
    const ids = operations.map((operation) => operation.operationId);
    expect(ids.every((id) => typeof id === 'string' && /^[a-z][A-Za-z]+$/.test(id))).toBe(true);
    expect(new Set(ids).size).toBe(ids.length);
    expect(openapi.components.securitySchemes.adminToken).toEqual(expect.objectContaining({ type: 'http', scheme: 'bearer' }));
    for (const operation of operations) {
      expect(operation.security, operation.operationId).toEqual(operation.tags.includes('admin') ? [{ adminToken: [] }] : []);
    }
    expect(openapi.paths['/queues/{name}/pause'].post.operationId).toBe('pauseQueue');

    // Error answers are declared as what they are sent as: problem details.
    const errorResponses = operations.flatMap((operation) =>
      Object.entries((operation as unknown as { responses: Record<string, { content?: Record<string, unknown> }> }).responses)
        .filter(([status]) => Number(status) >= 400)
        .map(([status, declared]) => [`${operation.operationId} ${status}`, Object.keys(declared.content ?? {})] as const),
    );
    expect(errorResponses.length).toBeGreaterThan(50);
    for (const [which, mediaTypes] of errorResponses) expect(mediaTypes, which).toEqual(['application/problem+json']);
    // One Problem schema, referred to by every problem response.
    expect(createJob.responses['400'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(openapi.components.schemas.Problem.required).toEqual(expect.arrayContaining(['type', 'title', 'status', 'detail']));

    const ui = await app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toContain('swagger');
  } finally {
    await app.close();
  }
});
