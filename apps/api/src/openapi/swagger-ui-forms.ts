/**
 * A Swagger UI plugin: in "Try it out", a form's optional fields start empty and are sent only
 * when filled in. Swagger UI (swagger-ui-dist 5) fills each field of a multipart form with a
 * value made from its schema (its example, its default, the first of its enum, else `"string"` or
 * the minimum) and ticks "Send empty value" for every optional one, so POST /documents was sent
 * `metadata=string` and `timeout_ms=1`, or empty fields the API refuses, unless the user cleared
 * and unticked each one. No keyword of the document changes either, so the two components that
 * do it are wrapped: JsonSchemaForm, whose `dispatchInitialValue` false sets its value to "" on
 * mount, and ParameterIncludeEmpty, whose `isIncludedOptions.defaultValue` is the tick's start.
 *
 * It runs in the browser: @fastify/swagger-ui writes the function's source into the page's
 * script, so it uses nothing but its argument.
 */
export function formFieldsStartEmpty(system: SwaggerUiSystem): SwaggerUiPlugin {
  const h = system.React.createElement;
  return {
    wrapComponents: {
      JsonSchemaForm: (Original) => (props) => h(Original, props['dispatchInitialValue'] === true && props['required'] !== true ? { ...props, dispatchInitialValue: false } : props),
      ParameterIncludeEmpty: (Original) => (props) => h(Original, { ...props, isIncludedOptions: { ...(props['isIncludedOptions'] as object), defaultValue: false } }),
    },
  };
}

type Props = Record<string, unknown>;
type Component = (props: Props) => unknown;

/** What of Swagger UI's plugin system the plugin uses. */
export interface SwaggerUiSystem {
  React: { createElement: (type: unknown, props: Props) => unknown };
}

export interface SwaggerUiPlugin {
  wrapComponents: Record<string, (Original: unknown) => Component>;
}
