/** The named params a request carries, as given; the endpoint judges their values. */
export function pickParams(params: Record<string, unknown>, names: readonly string[]): Record<string, unknown> {
  return Object.fromEntries(names.filter((name) => params[name] !== undefined).map((name) => [name, params[name]]));
}
