/**
 * zod's validation messages in words a person acts on. The API's validation errors (schema
 * validation of every route, and the fields of a document upload) all pass through here.
 */

export interface ValidationError {
  /** Where: `body.delay_ms`, `querystring.limit`. */
  path: string;
  message: string;
}

/**
 * The errors said plainly (see plainIssue), one complaint per bound: an integer past a field's own
 * bound is past the safe-integer bound too, which zod reports as well. A value of the wrong type
 * gets that complaint alone: zod still checks a string's length on an array, so `"model": []`
 * was "not an array" and "must not be empty".
 */
export function plainErrors(issues: readonly ValidationError[]): ValidationError[] {
  // Counted once, not looked up per issue: a batch can hold 10,000 issues (quadratic: a second).
  const perPath = new Map<string, number>();
  const wrongType = new Set<string>();
  for (const { path, message } of issues) {
    perPath.set(path, (perPath.get(path) ?? 0) + 1);
    if (WRONG_TYPE.test(message)) wrongType.add(path);
  }
  return issues
    .filter((issue) => (wrongType.has(issue.path) ? WRONG_TYPE.test(issue.message) : !(SAFE_INTEGER_BOUND.test(issue.message) && perPath.get(issue.path)! > 1)))
    .map(({ path, message }) => {
      // No body at all reaches validation as null.
      if (path === 'body' && /received null$/.test(message)) return { path, message: 'is required: send a JSON object' };
      // A query parameter given twice (`?limit=5&limit=6`) reaches validation as an array.
      if (path.startsWith('querystring.') && WRONG_TYPE.test(message) && message.endsWith('received array')) {
        // GET /events takes several queues in one parameter, as the browser's URLSearchParams would not.
        const several = path === 'querystring.queue' ? '; several queues go in one, separated by commas (?queue=inference,documents)' : '; send it once';
        return { path: shortPath(path), message: `is given more than once${several}` };
      }
      return { path: shortPath(path), message: plainIssue(message) };
    });
}

/** The most characters of one key a path shows: a key refused for its length is not said back whole. */
const SHOWN_KEY_CHARS = 40;

/** `path` with each key past SHOWN_KEY_CHARS cut short, marked with an ellipsis. */
function shortPath(path: string): string {
  if (path.length <= SHOWN_KEY_CHARS) return path;
  return path
    .split('.')
    .map((key) => (key.length > SHOWN_KEY_CHARS ? `${key.slice(0, SHOWN_KEY_CHARS)}…` : key))
    .join('.');
}

/** The most errors one problem lists: enough to fix a request by, while a 16 MiB batch of bad jobs is not answered with 100 MB. */
export const MAX_LISTED_ERRORS = 20;

/** An invalid-request problem's `detail` and `errors`: the first MAX_LISTED_ERRORS, and how many more there are. */
export function invalidRequest(errors: readonly ValidationError[]): { detail: string; errors: ValidationError[] } {
  const listed = errors.slice(0, MAX_LISTED_ERRORS);
  const more = errors.length - listed.length;
  const detail = listed.map((e) => `${e.path}: ${e.message}`).join('; ');
  return { detail: more > 0 ? `${detail}; and ${more} more (fix these and send it again)` : detail, errors: listed };
}

/** The most unknown fields one error names. */
const MAX_NAMED_FIELDS = 10;

/** zod's words for a value of the wrong type. */
const WRONG_TYPE = /^Invalid input: expected \w+, received/;

/** zod's bound on an integer it accepts (Number.MAX_SAFE_INTEGER), as its message says it. */
const SAFE_INTEGER_BOUND = /^Too (big|small): expected int to be [<>]=-?9007199254740991$/;

const BOUND_WORDS: Record<string, string> = { '<=': 'at most', '<': 'less than', '>=': 'at least', '>': 'more than' };

/**
 * zod's words said plainly: "expected string, received undefined" is "is required", "received NaN"
 * is "not a number", "Too big: expected number to be <=3600000" is "must be at most 3600000",
 * "expected int, received number" is "a whole number", and so on. A message not recognized is kept.
 */
function plainIssue(message: string): string {
  const expected = /^Invalid input: expected (\w+), received (-?\w+)$/.exec(message);
  if (expected) {
    const [, expectedType, received] = expected as unknown as [string, string, string];
    const type = expectedType === 'int' ? 'whole number' : expectedType === 'record' ? 'object' : expectedType;
    if (received === 'NaN') return `must be a number, and this is not one`;
    // JSON reads a number past a double's range (1e400) as Infinity.
    if (received === 'Infinity' || received === '-Infinity') return `is too large ${received === '-Infinity' ? 'a negative' : 'a'} number (JSON reads one past 1.8e308 as Infinity)`;
    if (received === 'undefined') return `is required (${article(type)} ${type})`;
    if (expectedType === 'int' && received === 'number') return 'must be a whole number';
    return `must be ${article(type)} ${type}, not ${received === 'null' ? 'null' : `${article(received)} ${received}`}`;
  }
  const bound = /^Too (?:big|small): expected (\w+) to (be|have) ([<>]=?)(-?[\d.e+]+)(?: (\w+))?$/.exec(message);
  if (bound) {
    const [, , verb, operator, limit, unit] = bound;
    if (verb === 'have' && operator === '>=' && limit === '1') return 'must not be empty';
    const units = unit && limit === '1' ? unit.replace(/s$/, '') : unit;
    return `must ${verb} ${BOUND_WORDS[operator!]} ${limit}${units ? ` ${units}` : ''}`;
  }
  const option = /^Invalid option: expected one of (.+)$/.exec(message);
  if (option) return `must be one of ${option[1]!.split('|').join(', ')}`;
  const unknown = /^Unrecognized keys?: (.+)$/.exec(message);
  if (unknown) {
    // The first few names: 90,000 unknown fields are not named back in a 2 MB problem.
    const names = unknown[1]!.split(', ');
    const named = names.length > MAX_NAMED_FIELDS ? `${names.slice(0, MAX_NAMED_FIELDS).join(', ')} and ${names.length - MAX_NAMED_FIELDS} more` : unknown[1];
    return `has ${names.length > 1 ? 'fields' : 'a field'} it does not take: ${named}`;
  }
  return message;
}

function article(word: string): string {
  return /^[aeiou]/.test(word) ? 'an' : 'a';
}
