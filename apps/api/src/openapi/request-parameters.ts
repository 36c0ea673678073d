import type { OpenAPIV3_1 } from 'openapi-types';
import { operationsOf, type Document } from './operations.js';

/**
 * What every request may send beside its route's own parameters, and which bodies may be left
 * out. @fastify/swagger marks every body required, since Fastify needs one when a route has a
 * body schema; a route whose schema takes `undefined` (`.nullish()`) is served without one.
 */

/** The pattern request-id.ts takes a client's ID with; any other value is ignored, not refused. */
const REQUEST_ID: OpenAPIV3_1.ParameterObject = {
  name: 'X-Request-Id',
  in: 'header',
  required: false,
  description:
    "your trace ID for this request, used in the API's logs and as a problem's `instance` (`urn:request:<id>`); a value that does not match is ignored and a UUID is made instead",
  schema: { type: 'string', pattern: '^[A-Za-z0-9._:-]{1,128}$', maxLength: 128 },
};

export function describeRequests(document: Document, optionalBodies: ReadonlySet<string>): void {
  document.components ??= {};
  document.components.parameters = { ...document.components.parameters, RequestId: REQUEST_ID };
  for (const { operation } of operationsOf(document)) {
    operation.parameters = [...(operation.parameters ?? []), { $ref: '#/components/parameters/RequestId' }];
    if (operation.requestBody && 'content' in operation.requestBody && optionalBodies.has(operation.operationId ?? '')) operation.requestBody.required = false;
  }
}
