/**
 * The repository's own files, for the static tests of what ships (the Dockerfiles, compose, what
 * `pnpm deploy` copies): paths are relative to the repository's root.
 */
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { parse as parseYaml } from 'yaml';

const root = new URL('..', import.meta.url);

export const at = (path: string) => new URL(path, root);
export const readText = (path: string) => readFileSync(at(path), 'utf8');

/** The fields of a package.json these tests read. */
export interface PackageJson {
  name: string;
  main?: string;
  files?: string[];
  packageManager?: string;
  engines?: { node?: string };
  scripts?: Record<string, string>;
  dependencies?: Record<string, string>;
  devDependencies?: Record<string, string>;
}

export const readPackage = (path: string) => JSON.parse(readText(path)) as PackageJson;

/** Workspace packages by name, with the folder each lives in (`apps/api`), as pnpm-workspace.yaml lists them. */
export function workspacePackages(): Map<string, { dir: string; manifest: PackageJson }> {
  const { packages: patterns } = parseYaml(readText('pnpm-workspace.yaml')) as { packages: string[] };
  const dirs = patterns.flatMap((pattern) => {
    if (!pattern.endsWith('/*')) return [pattern];
    const parent = pattern.slice(0, -2);
    return readdirSync(at(`${parent}/`), { withFileTypes: true })
      .filter((entry) => entry.isDirectory())
      .map((entry) => `${parent}/${entry.name}`);
  });
  const found = new Map<string, { dir: string; manifest: PackageJson }>();
  for (const dir of dirs.filter((candidate) => existsSync(at(`${candidate}/package.json`)))) {
    const manifest = readPackage(`${dir}/package.json`);
    found.set(manifest.name, { dir, manifest });
  }
  return found;
}
