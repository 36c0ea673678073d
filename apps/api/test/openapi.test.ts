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

    const ui = await app.inject({ url: '/docs/' });
    expect(ui.statusCode).toBe(200);
    expect(ui.headers['content-type']).toMatch(/text\/html/);
    expect(ui.body).toContain('swagger');
  } finally {
    await app.close();
  }
});
