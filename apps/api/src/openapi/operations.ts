import type { OpenAPIV3_1 } from 'openapi-types';

export type Document = OpenAPIV3_1.Document;
export type Operation = OpenAPIV3_1.OperationObject;
export type Response = OpenAPIV3_1.ResponseObject;
export type Header = OpenAPIV3_1.HeaderObject;

const METHODS = ['get', 'put', 'post', 'delete', 'options', 'head', 'patch', 'trace'] as const;
export type Method = (typeof METHODS)[number];

export interface OperationAt {
  path: string;
  method: Method;
  operation: Operation;
}

/** Every operation of the document, with its path and method. */
export function operationsOf(document: Document): OperationAt[] {
  return Object.entries(document.paths ?? {}).flatMap(([path, item]) =>
    METHODS.flatMap((method) => {
      const operation = item?.[method];
      return operation ? [{ path, method, operation }] : [];
    }),
  );
}

/**
 * An operation's responses, keyed by status. The document builds each response inline (none is a
 * `$ref`), so the rules that complete it read and write response objects.
 */
export function responsesOf(operation: Operation): Record<string, Response> {
  operation.responses ??= {};
  return operation.responses as Record<string, Response>;
}
