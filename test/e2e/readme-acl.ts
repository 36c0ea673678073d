import { readFileSync } from 'node:fs';

/** The rules of the README's least-privilege ACL user (`redis-cli ACL SETUSER conveyor ...`), as ACL SETUSER arguments. */
export function readmeAclRules(): string[] {
  const readme = readFileSync(new URL('../../README.md', import.meta.url), 'utf8');
  const command = /^redis-cli ACL SETUSER conveyor (.+?)\n(?!\s)/ms.exec(readme)?.[1];
  if (!command) throw new Error('README.md has no "redis-cli ACL SETUSER conveyor" line');
  return command
    .replace(/\\\n/g, ' ')
    .split(/\s+/)
    .filter(Boolean)
    .map((word) => word.replace(/^'(.*)'$/, '$1'));
}
