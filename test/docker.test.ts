/**
 * The Dockerfiles and docker-compose.yml, checked statically: CI machines have a Docker client but
 * no engine, so nothing here builds an image. Each check reads the real files and the package
 * manifests they depend on.
 */
import { execFile } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { apiEnvSchema, loadConfig, PIPELINES, workerEnvSchema } from '@conveyor/shared';
import { selectStages } from '../apps/worker/src/stage-selection.js';
import { posix } from 'node:path';
import { describe, expect, test } from 'vitest';
import { parse as parseYaml } from 'yaml';
import { at, readPackage, readText, workspacePackages } from './repository-files.js';




// --- A small Dockerfile reader -------------------------------------------------------------------

interface Instruction {
  keyword: string;
  args: string;
}
interface Stage {
  image: string;
  name: string | undefined;
  instructions: Instruction[];
}

/** Joins backslash-continued lines, drops comments and blank lines, splits keyword from arguments. */
function parseDockerfile(text: string): Instruction[] {
  const instructions: Instruction[] = [];
  let pending = '';
  for (const line of text.split(/\r?\n/)) {
    if (/^\s*#/.test(line)) continue;
    if (/\\\s*$/.test(line)) {
      pending += `${line.replace(/\\\s*$/, '')} `;
      continue;
    }
    const whole = (pending + line).trim();
    pending = '';
    if (whole === '') continue;
    const match = /^(\w+)\s+([\s\S]*)$/.exec(whole);
    if (!match) throw new Error(`cannot read Dockerfile instruction: ${whole}`);
    instructions.push({ keyword: match[1]!.toUpperCase(), args: match[2]!.trim() });
  }
  return instructions;
}

function stagesOf(instructions: Instruction[]): Stage[] {
  const stages: Stage[] = [];
  for (const instruction of instructions) {
    if (instruction.keyword === 'FROM') {
      const [image, as, name] = instruction.args.split(/\s+/).filter((word) => !word.startsWith('--'));
      stages.push({ image: image!, name: as?.toUpperCase() === 'AS' ? name : undefined, instructions: [] });
    } else {
      stages.at(-1)?.instructions.push(instruction);
    }
  }
  return stages;
}

/** Leading `--flag=value` options (RUN --mount, COPY --from) and the rest of the arguments. */
function splitFlags(args: string): { flags: Map<string, string>; rest: string } {
  const flags = new Map<string, string>();
  let rest = args;
  for (let match = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest); match; match = /^--([\w-]+)(?:=(\S*))?\s+/.exec(rest)) {
    flags.set(match[1]!, match[2] ?? '');
    rest = rest.slice(match[0].length);
  }
  return { flags, rest };
}

function execForm(args: string): string[] {
  expect(args.startsWith('['), `expected exec form (a JSON array), got: ${args}`).toBe(true);
  return JSON.parse(args) as string[];
}

/** `ENV A=1 B=2` or the legacy `ENV A 1`. */
function envOf(stage: Stage): Map<string, string> {
  const env = new Map<string, string>();
  for (const { args } of stage.instructions.filter((instruction) => instruction.keyword === 'ENV')) {
    if (!/^\w+=/.test(args)) {
      const [key, ...value] = args.split(/\s+/);
      env.set(key!, value.join(' '));
      continue;
    }
    for (const match of args.matchAll(/(\w+)=(?:"([^"]*)"|(\S*))/g)) env.set(match[1]!, match[2] ?? match[3]!);
  }
  return env;
}

const runs = (stage: Stage) => stage.instructions.filter((instruction) => instruction.keyword === 'RUN');
const isGlob = (path: string) => /[*?[]/.test(path);
const withoutTrailingSlash = (path: string) => path.replace(/(.)\/+$/, '$1');

// --- Node versions against package.json's engines.node ---------------------------------------------

type Version = [number, number, number];
const compare = (a: Version, b: Version) => a[0] - b[0] || a[1] - b[1] || a[2] - b[2];

/**
 * Whether a version satisfies an npm `engines` range: `||` alternatives of space-separated
 * comparators (`>=20.19`, `<21`, `^22.12`, `~20.19.0`, `20.x`), partial versions as semver reads
 * them. Anything else throws, so the check never passes on syntax it does not understand.
 */
function satisfies(version: Version, range: string): boolean {
  const alternatives = range.split('||').map((alternative) => {
    const comparators = alternative.trim().replace(/(>=|<=|>|<|=|\^|~)\s+/g, '$1').split(/\s+/).filter(Boolean);
    // Read every comparator first: one that cannot be read throws whatever the others say.
    const tests = comparators.map((comparator) => {
      const match = /^(>=|<=|>|<|=|\^|~)?v?(\d+|[xX*])(?:\.(\d+|[xX*]))?(?:\.(\d+|[xX*]))?$/.exec(comparator);
      if (!match) throw new Error(`cannot read the engines comparator ${comparator} in ${range}`);
      const [, operator = '=', ...parts] = match;
      const given = parts.map((part) => (part === undefined || /^[xX*]$/.test(part) ? undefined : Number(part)));
      const known = given.findIndex((part) => part === undefined);
      const precision = known === -1 ? 3 : known; // how many of major, minor, patch are given
      const low: Version = [given[0] ?? 0, given[1] ?? 0, given[2] ?? 0];
      // The first version past the partial one: 20.19 -> 20.20.0, 21 -> 22.0.0.
      const next = (count: number): Version => (count <= 0 ? [Infinity, 0, 0] : count === 1 ? [low[0] + 1, 0, 0] : count === 2 ? [low[0], low[1] + 1, 0] : [low[0], low[1], low[2] + 1]);
      const within = (from: Version, to: Version) => () => compare(version, from) >= 0 && compare(version, to) < 0;
      switch (operator) {
        case '>=': return () => compare(version, low) >= 0;
        case '<': return () => compare(version, low) < 0;
        case '>': return () => compare(version, next(precision)) >= 0;
        case '<=': return () => compare(version, next(precision)) < 0;
        case '~': return within(low, next(Math.min(precision, 2)));
        case '^': return within(low, next(precision === 0 ? 0 : low[0] > 0 || precision < 2 ? 1 : low[1] > 0 || precision < 3 ? 2 : 3));
        default: return within(low, next(precision));
      }
    });
    return () => tests.every((passes) => passes());
  });
  return alternatives.some((passes) => passes());
}

// --- The images ------------------------------------------------------------------------------------

const images = [
  { app: 'api', dockerfile: 'Dockerfile.api', dir: 'apps/api', entry: 'server', port: 3000, portVariable: 'PORT' },
  { app: 'worker', dockerfile: 'Dockerfile.worker', dir: 'apps/worker', entry: 'main', port: 9464, portVariable: 'WORKER_PORT' },
];

describe.each(images)('$dockerfile', ({ app, dockerfile, dir, entry, port, portVariable }) => {
  const load = () => {
    const instructions = parseDockerfile(readText(dockerfile));
    const stages = stagesOf(instructions);
    const manifest = readPackage(`${dir}/package.json`);
    const deployStage = stages.find((stage) => runs(stage).some((run) => /\bpnpm\s+deploy\b/.test(run.args)));
    const final = stages.at(-1)!;
    return { instructions, stages, manifest, deployStage, final };
  };

  test(`the ${app} image is a multi-stage build whose final stage starts from a Node image`, () => {
    const { stages, final } = load();
    expect(stages.length).toBeGreaterThan(1);
    expect(final.image).toMatch(/^(docker\.io\/(library\/)?)?node:/);
  });

  test(`every stage of the ${app} image runs a Node release that package.json's engines.node allows`, () => {
    const { stages } = load();
    const range = readPackage('package.json').engines?.node;
    expect(range, 'package.json sets no engines.node').toBeDefined();
    const nodeStages = stages.filter((stage) => /^(docker\.io\/(library\/)?)?node:/.test(stage.image));
    expect(nodeStages.length).toBeGreaterThan(0);
    for (const { image } of nodeStages) {
      // node:22-bookworm-slim follows the newest 22.x; node:22.12.0-slim is that release.
      const tag = /:v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-|$)/.exec(image);
      expect(tag, `${image}: the tag names no Node version (latest, lts, a codename): the major it runs can change under the build`).not.toBeNull();
      const [major, minor, patch] = [tag![1], tag![2], tag![3]].map((part) => (part === undefined ? undefined : Number(part)));
      const version: Version = [major!, minor ?? Number.MAX_SAFE_INTEGER, minor === undefined ? Number.MAX_SAFE_INTEGER : (patch ?? Number.MAX_SAFE_INTEGER)];
      const named = minor === undefined ? `${major}.x, its newest release` : patch === undefined ? `${major}.${minor}.x` : version.join('.');
      expect(satisfies(version, range!), `${image} runs Node ${named}, which engines.node "${range}" does not allow`).toBe(true);
    }
  });

  test(`the ${app} image deploys only the ${app}'s production dependencies with pnpm deploy --prod`, () => {
    const { deployStage, manifest } = load();
    expect(deployStage, 'no stage runs `pnpm deploy`').toBeDefined();
    const deploy = runs(deployStage!).find((run) => /\bpnpm\s+deploy\b/.test(run.args))!;
    expect(deploy.args).toMatch(/\s--prod\b/);
    expect(deploy.args).toMatch(new RegExp(`--filter[= ]["']?${manifest.name.replace('/', '\\/')}["']?(\\s|$)`));
  });

  test(`the ${app} final stage holds nothing but the pnpm deploy output, in its working directory`, () => {
    const { stages, deployStage, final } = load();
    const deploy = runs(deployStage!).find((run) => /\bpnpm\s+deploy\b/.test(run.args))!;
    const outputDir = withoutTrailingSlash(deploy.args.trim().split(/\s+/).at(-1)!);
    const copies = final.instructions.filter((instruction) => instruction.keyword === 'COPY' || instruction.keyword === 'ADD');
    expect(copies.length).toBeGreaterThan(0);
    const deployStageRefs = [deployStage!.name, String(stages.indexOf(deployStage!))];
    for (const copy of copies) {
      const { flags, rest } = splitFlags(copy.args);
      const [source, destination] = rest.split(/\s+/);
      expect(deployStageRefs, `final stage copies from somewhere else: ${copy.args}`).toContain(flags.get('from'));
      expect(withoutTrailingSlash(source!)).toBe(outputDir);
      const workdir = final.instructions.filter((instruction) => instruction.keyword === 'WORKDIR').at(-1)?.args;
      expect(workdir, 'the final stage sets no WORKDIR').toBeDefined();
      expect(withoutTrailingSlash(destination!)).toBe(withoutTrailingSlash(workdir!));
    }
    expect(envOf(final).get('NODE_ENV')).toBe('production');
  });

  test(`the ${app} image runs the compiled ${app} entry point as a non-root user`, () => {
    const { final, manifest } = load();
    const user = final.instructions.filter((instruction) => instruction.keyword === 'USER').at(-1);
    expect(user, 'the final stage never sets USER').toBeDefined();
    expect(user!.args.split(':')[0]).not.toMatch(/^(root|0)$/);

    const cmd = final.instructions.filter((instruction) => instruction.keyword === 'CMD').at(-1);
    expect(cmd, 'the final stage has no CMD').toBeDefined();
    const argv = execForm(cmd!.args);
    expect(argv[0]).toBe('node');
    const script = argv.find((arg) => /^(\.\/)?dist\/.+\.js$/.test(arg));
    expect(script, `CMD runs no dist/*.js file: ${cmd!.args}`).toBeDefined();
    expect(script!.replace(/^\.\//, '')).toBe(`dist/${entry}.js`);
    expect(manifest.main).toBe(`dist/${entry}.js`);
    expect(existsSync(at(`${dir}/src/${entry}.ts`)), `${dir}/src/${entry}.ts is missing`).toBe(true);
  });

  test(`the ${app} image runs node under tini so SIGTERM reaches the process`, () => {
    const { final } = load();
    const entrypoint = final.instructions.filter((instruction) => instruction.keyword === 'ENTRYPOINT').at(-1);
    expect(entrypoint, 'the final stage has no ENTRYPOINT').toBeDefined();
    const argv = execForm(entrypoint!.args);
    expect(argv[0]).toMatch(/(^|\/)(tini|dumb-init)$/);
    const init = argv[0]!.split('/').at(-1)!;
    const installs = runs(final).some((run) => new RegExp(`apt-get\\s+install\\b[\\s\\S]*\\b${init}\\b`).test(run.args));
    expect(installs, `the final stage never installs ${init}`).toBe(true);
    const stopSignal = final.instructions.find((instruction) => instruction.keyword === 'STOPSIGNAL');
    expect(stopSignal?.args).toBe('SIGTERM');
  });

  test(`the ${app} image checks its own /healthz with node on the port it exposes`, () => {
    const { final } = load();
    const expose = final.instructions.find((instruction) => instruction.keyword === 'EXPOSE');
    expect(expose?.args.split(/\s+/).map((word) => word.split('/')[0])).toContain(String(port));

    const healthcheck = final.instructions.find((instruction) => instruction.keyword === 'HEALTHCHECK');
    expect(healthcheck, 'the final stage has no HEALTHCHECK').toBeDefined();
    const { rest } = splitFlags(healthcheck!.args);
    const match = /^CMD\s+([\s\S]+)$/.exec(rest);
    expect(match, `HEALTHCHECK has no CMD: ${rest}`).not.toBeNull();
    const argv = execForm(match![1]!);
    // Slim Node images carry no curl or wget; node itself is always there.
    expect(argv[0]).toBe('node');
    const command = argv.join(' ');
    expect(command).toContain('/healthz');
    expect(command).toContain(String(port));
  });

  test(`the ${app} image's HEALTHCHECK, run, passes on a 200 from /healthz on ${portVariable} and fails on a 503 or nothing listening`, async () => {
    const { final } = load();
    const { rest } = splitFlags(final.instructions.find((instruction) => instruction.keyword === 'HEALTHCHECK')!.args);
    const [node, ...args] = execForm(/^CMD\s+([\s\S]+)$/.exec(rest)![1]!);
    let status = 200;
    const paths: string[] = [];
    const server = createServer((request, response) => {
      paths.push(request.url ?? '');
      response.writeHead(status).end();
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    const listening = String((server.address() as AddressInfo).port);
    const check = (portValue: string) => new Promise<number | null>((resolve) => execFile(node === 'node' ? process.execPath : node!, args, { env: { ...process.env, [portVariable]: portValue } }, (error) => resolve(error ? (error.code as number) : 0)));
    try {
      expect(await check(listening)).toBe(0);
      status = 503;
      expect(await check(listening)).not.toBe(0);
      expect(paths).toEqual(['/healthz', '/healthz']);
    } finally {
      await new Promise((resolve) => server.close(resolve));
    }
    expect(await check(listening)).not.toBe(0);
    // The worker can run without a listener (-1) or on a port picked at start (0): nothing to ask.
    if (app === 'worker') for (const off of ['-1', '0']) expect(await check(off), `${portVariable}=${off}`).toBe(0);
  });

  test(`the ${app} image installs from the lockfile with the pnpm version package.json pins, into a cached store`, () => {
    const { instructions, deployStage } = load();
    const pinned = /^pnpm@(.+)$/.exec(readPackage('package.json').packageManager ?? '')?.[1];
    expect(pinned, 'package.json pins no pnpm version').toBeDefined();
    const used = [...instructions.flatMap((instruction) => [...instruction.args.matchAll(/\bpnpm@([\w.-]+)/g)].map((m) => m[1]))];
    expect(used.length, 'the Dockerfile never names a pnpm version').toBeGreaterThan(0);
    for (const version of used) expect(version).toBe(pinned);

    const install = runs(deployStage!).find((run) => /\bpnpm\s+(install|fetch)\b/.test(splitFlags(run.args).rest));
    expect(install, 'the build stage never runs pnpm install/fetch').toBeDefined();
    const { flags, rest } = splitFlags(install!.args);
    if (/\bpnpm\s+install\b/.test(rest)) expect(rest).toMatch(/--frozen-lockfile|--offline/);
    const mount = flags.get('mount') ?? '';
    expect(mount).toMatch(/(^|,)type=cache(,|$)/);
    const target = /(?:^|,)(?:target|dst|destination)=([^,]+)/.exec(mount)?.[1];
    const storeDir = /--store-dir[= ](\S+)/.exec(rest)?.[1] ?? `${envOf(deployStage!).get('PNPM_HOME')}/store`;
    expect(target).toBe(storeDir);
  });

  test(`the ${app} image copies only paths that exist, every workspace manifest before installing`, () => {
    const { stages, deployStage } = load();
    for (const stage of stages) {
      for (const copy of stage.instructions.filter((instruction) => instruction.keyword === 'COPY')) {
        const { flags, rest } = splitFlags(copy.args);
        if (flags.has('from')) continue;
        const sources = rest.split(/\s+/).slice(0, -1);
        for (const source of sources) {
          if (source === '.' || source === './' || isGlob(source)) continue;
          expect(existsSync(at(source)), `COPY source ${source} does not exist`).toBe(true);
        }
      }
    }

    // pnpm install --frozen-lockfile needs the manifest of every importer the lockfile lists.
    const beforeInstall: string[] = [];
    let workdir = '/';
    for (const instruction of deployStage!.instructions) {
      if (instruction.keyword === 'WORKDIR') workdir = instruction.args;
      if (instruction.keyword === 'RUN' && /\bpnpm\s+(install|fetch)\b/.test(instruction.args)) break;
      if (instruction.keyword !== 'COPY') continue;
      const words = splitFlags(instruction.args).rest.split(/\s+/);
      const destination = words.at(-1)!;
      for (const source of words.slice(0, -1)) {
        const target = destination.endsWith('/') ? `${destination}${source.split('/').at(-1)}` : destination;
        beforeInstall.push(`${source} -> ${posix.resolve(workdir, target)}`);
      }
    }
    for (const manifest of ['package.json', 'pnpm-lock.yaml', 'pnpm-workspace.yaml']) {
      expect(beforeInstall).toContain(`${manifest} -> ${posix.resolve(workdir, manifest)}`);
    }
    for (const { dir: packageDir } of workspacePackages().values()) {
      expect(beforeInstall).toContain(`${packageDir}/package.json -> ${posix.resolve(workdir, packageDir, 'package.json')}`);
    }
  });

  test(`the ${app} image builds the ${app} and its workspace dependencies with a script that exists`, () => {
    const { deployStage, manifest, stages } = load();
    const packages = workspacePackages();
    const buildRuns = runs(deployStage!).filter((run) => /\bpnpm\b[\s\S]*\s(run\s+)?build\b|\btsc\b/.test(run.args));
    expect(buildRuns.length, 'the build stage never builds').toBeGreaterThan(0);
    const built = new Set<string>();
    for (const run of buildRuns) {
      if (/\btsc\b/.test(run.args)) {
        expect(readPackage('package.json').devDependencies, 'tsc without typescript installed').toHaveProperty('typescript');
        for (const match of run.args.matchAll(/\btsc\s+(?:-b|--build)\s+(\S+)/g)) {
          expect(existsSync(at(`${withoutTrailingSlash(match[1]!)}/tsconfig.json`))).toBe(true);
          const target = [...packages.values()].find((entry) => entry.dir === withoutTrailingSlash(match[1]!));
          if (target) built.add(target.manifest.name);
        }
        continue;
      }
      const filters = [...run.args.matchAll(/--filter[= ]["']?([^\s"']+)/g)].map((m) => m[1]!);
      expect(filters.length, `pnpm build without --filter: ${run.args}`).toBeGreaterThan(0);
      for (const filter of filters) {
        const name = filter.replace(/^\^?/, '').replace(/\.\.\.$/, '');
        const target = packages.get(name);
        expect(target, `--filter ${filter} names no workspace package`).toBeDefined();
        expect(target!.manifest.scripts, `${name} has no build script`).toHaveProperty('build');
        built.add(name);
        if (!filter.endsWith('...')) continue;
        for (const [dependency, range] of Object.entries(target!.manifest.dependencies ?? {})) {
          if (!range.startsWith('workspace:')) continue;
          expect(packages.get(dependency)?.manifest.scripts, `${dependency} has no build script`).toHaveProperty('build');
          built.add(dependency);
        }
      }
    }
    expect(built).toContain(manifest.name);
    // The deployed workspace dependencies ship their dist, so it must be built and its sources copied.
    const copied = stages.flatMap((stage) =>
      stage.instructions
        .filter((instruction) => instruction.keyword === 'COPY' && !splitFlags(instruction.args).flags.has('from'))
        .flatMap((instruction) => splitFlags(instruction.args).rest.split(/\s+/).slice(0, -1).map(withoutTrailingSlash)),
    );
    expect(copied).toContain(dir);
    for (const [dependency, range] of Object.entries(manifest.dependencies ?? {})) {
      if (!range.startsWith('workspace:')) continue;
      expect(copied, `the sources of ${dependency} are never copied`).toContain(packages.get(dependency)!.dir);
    }
  });
});

describe('.dockerignore', () => {
  test('keeps host node_modules, build output and stale build info out of every build context', () => {
    const patterns = readText('.dockerignore')
      .split(/\r?\n/)
      .map((line) => line.trim())
      .filter((line) => line !== '' && !line.startsWith('#'));
    // A bare `node_modules` only matches at the root; nested ones need `**/`.
    expect(patterns).toContain('**/node_modules');
    expect(patterns).toContain('**/dist');
    // A tsbuildinfo copied without its dist makes `tsc -b` think the build is up to date.
    expect(patterns).toContain('**/*.tsbuildinfo');
    expect(patterns).toContain('.git');
  });
});

// --- docker-compose.yml ----------------------------------------------------------------------------

interface ComposeService {
  image?: string;
  build?: string | { context?: string; dockerfile?: string };
  command?: string | string[];
  volumes?: (string | { source?: string; target?: string })[];
  ports?: (string | number | { published?: string | number; target?: number })[];
  environment?: Record<string, string | number | null> | string[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: string | string[]; interval?: string; timeout?: string; retries?: number };
  deploy?: { replicas?: number };
  stop_grace_period?: string;
  restart?: string;
}
interface ComposeFile {
  version?: unknown;
  services?: Record<string, ComposeService>;
  volumes?: Record<string, unknown>;
}

const loadCompose = () => parseYaml(readText('docker-compose.yml')) as ComposeFile;
const service = (name: string) => {
  const found = loadCompose().services?.[name];
  expect(found, `docker-compose.yml has no ${name} service`).toBeDefined();
  return found!;
};
const environmentOf = (entry: ComposeService): Record<string, string> => {
  const env = entry.environment ?? {};
  if (Array.isArray(env)) return Object.fromEntries(env.map((line) => [line.split('=')[0]!, line.slice(line.indexOf('=') + 1)]));
  return Object.fromEntries(Object.entries(env).map(([key, value]) => [key, String(value ?? '')]));
};
/** Compose durations: `30s`, `1m30s`, `500ms`. */
const durationMs = (text: string) => {
  let total = 0;
  for (const match of text.matchAll(/(\d+(?:\.\d+)?)(ms|us|ns|h|m|s)/g)) {
    total += Number(match[1]) * { h: 3_600_000, m: 60_000, s: 1_000, ms: 1, us: 1e-3, ns: 1e-6 }[match[2]!]!;
  }
  return total;
};

describe('docker-compose.yml', () => {
  test('declares the redis, api and worker services for Compose v2', () => {
    const compose = loadCompose();
    expect(compose.version, 'Compose v2 ignores and warns about `version:`').toBeUndefined();
    expect(Object.keys(compose.services ?? {})).toEqual(expect.arrayContaining(['redis', 'api', 'worker']));
  });

  test('runs Redis 7 or later from the official image, with AOF on a named volume at /data', () => {
    const redis = service('redis');
    const image = /^(?:docker\.io\/(?:library\/)?)?redis:(\d+)/.exec(redis.image ?? '');
    expect(image, `not the official redis image: ${redis.image}`).not.toBeNull();
    expect(Number(image![1])).toBeGreaterThanOrEqual(7);

    const command = Array.isArray(redis.command) ? redis.command.join(' ') : (redis.command ?? '');
    expect(command).toMatch(/--appendonly\s+yes\b/);
    expect(command).toMatch(/--maxmemory-policy\s+noeviction\b/);

    const mounts = (redis.volumes ?? []).map((volume) =>
      typeof volume === 'string' ? { source: volume.split(':')[0], target: volume.split(':')[1] } : volume,
    );
    const data = mounts.find((mount) => mount.target === '/data');
    expect(data, 'nothing is mounted at /data').toBeDefined();
    expect(data!.source).toMatch(/^[\w.-]+$/); // a named volume, not a host path
    expect(Object.keys(loadCompose().volumes ?? {})).toContain(data!.source);
  });

  test('caps Redis memory (maxmemory, overridable, 1gb unless set) so that noeviction refuses writes instead of the kernel killing Redis', () => {
    const command = service('redis').command;
    expect(Array.isArray(command), 'the exec form keeps each argument whole').toBe(true);
    const argv = command as string[];
    const flag = argv.indexOf('--maxmemory');
    // Without maxmemory, noeviction never refuses a write: the API's "Redis full" 503 is never
    // reached, and Redis grows until the container or the host runs out of memory.
    expect(flag, 'redis-server runs without --maxmemory').toBeGreaterThan(0);
    expect(argv[argv.indexOf('--maxmemory-policy') + 1]).toBe('noeviction');
    const value = argv[flag + 1] ?? '';
    // `${REDIS_MAXMEMORY:-1gb}`: the shell may set it; Compose substitutes the default otherwise.
    const substituted = /^\$\{(\w+):?-([^}]*)\}$/.exec(value);
    expect(substituted, `--maxmemory ${value} cannot be changed without editing the file`).not.toBeNull();
    expect(substituted![1]).toBe('REDIS_MAXMEMORY');
    // Redis's units: 1k = 1000 bytes, 1kb = 1024, and so on; 0 means no limit at all.
    const size = /^(\d+)(b|k|kb|m|mb|g|gb)?$/i.exec(substituted![2]!);
    expect(size, `not a Redis memory size: ${substituted![2]}`).not.toBeNull();
    const unit = { b: 1, k: 1e3, kb: 1024, m: 1e6, mb: 1024 ** 2, g: 1e9, gb: 1024 ** 3 }[(size![2] ?? 'b').toLowerCase() as 'b'];
    const bytes = Number(size![1]) * unit;
    expect(bytes, 'the default maxmemory is too small to hold a backlog of documents').toBeGreaterThanOrEqual(256 * 1024 ** 2);
    expect(bytes, 'the default maxmemory is more than a developer machine gives Docker').toBeLessThanOrEqual(8 * 1024 ** 3);
  });

  test('marks Redis healthy only once it answers PING', () => {
    const { healthcheck } = service('redis');
    const probe = Array.isArray(healthcheck?.test) ? healthcheck.test.join(' ') : (healthcheck?.test ?? '');
    expect(probe).toMatch(/redis-cli\b.*\bping\b/i);
    expect(healthcheck?.interval).toBeDefined();
    expect(healthcheck?.timeout).toBeDefined();
    expect(healthcheck?.retries).toBeGreaterThan(0);
  });

  test.each([
    ['api', 'Dockerfile.api'],
    ['worker', 'Dockerfile.worker'],
    ['worker-embed', 'Dockerfile.worker'],
  ])('builds the %s from %s in the repository', (name, dockerfile) => {
    const { build } = service(name);
    expect(typeof build, `${name} has no build section with a dockerfile`).toBe('object');
    const { context = '.', dockerfile: file } = build as { context?: string; dockerfile?: string };
    expect(file).toBe(dockerfile);
    expect(existsSync(at(`${withoutTrailingSlash(context)}/${file}`)), `${context}/${file} is missing`).toBe(true);
  });

  test('publishes the API on host port 3000, on the loopback address only (the API has no login)', () => {
    expect(service('api').ports).toEqual(['127.0.0.1:3000:3000']);
  });

  test('runs three worker replicas and publishes none of their ports', () => {
    const worker = service('worker');
    expect(worker.deploy?.replicas).toBe(3);
    expect(worker.ports ?? []).toEqual([]);
  });

  test.each(['api', 'worker', 'worker-embed'])('starts the %s only once Redis is healthy, and points it at the redis service', (name) => {
    const entry = service(name);
    const dependsOn = entry.depends_on;
    expect(Array.isArray(dependsOn), 'the short depends_on form does not wait for health').toBe(false);
    expect((dependsOn as Record<string, { condition?: string }> | undefined)?.redis?.condition).toBe('service_healthy');

    const url = new URL(environmentOf(entry).REDIS_URL ?? 'missing:');
    expect(url.protocol).toBe('redis:');
    expect(url.hostname).toBe('redis');
    expect(url.port || '6379').toBe('6379');
    expect(entry.restart).toBe('unless-stopped');
  });

  test.each([
    ['api', apiEnvSchema],
    ['worker', workerEnvSchema],
    ['worker-embed', workerEnvSchema],
  ])('sets the %s only variables its configuration knows, and the values the shell passes through are optional', (name, schema) => {
    const env = environmentOf(service(name));
    for (const variable of Object.keys(env)) expect(Object.keys(schema.shape), `${name}: ${variable}`).toContain(variable);
    // `${NAME:-}` is empty when the shell does not set it: that must mean "unset", not a bad value.
    const passedThrough = Object.keys(env).filter((variable) => /^\$\{\w+:-\}$/.test(env[variable]!));
    expect(passedThrough.length).toBeGreaterThanOrEqual(name === 'api' ? 2 : 0);
    expect(() => loadConfig(schema, Object.fromEntries(passedThrough.map((variable) => [variable, ''])))).not.toThrow();
  });

  test('two kinds of worker together serve every stage of every pipeline, the embed stage by its own service', () => {
    const stagesOf = (name: string) => selectStages(environmentOf(service(name)).WORKER_STAGES, {}).map((s) => `${s.pipeline.name}:${s.stage}`);
    const all = PIPELINES.flatMap((pipeline) => pipeline.stages.map((stage) => `${pipeline.name}:${stage}`));
    expect(stagesOf('worker-embed')).toEqual(['documents:embed']);
    expect([...stagesOf('worker'), ...stagesOf('worker-embed')].sort()).toEqual([...all].sort());
    expect(service('worker-embed').ports ?? []).toEqual([]);
  });

  // The API and the workers alike drain within SHUTDOWN_GRACE_MS and exit within 2 s more.
  test.each(['api', 'worker', 'worker-embed'])('gives %s longer to stop than the drain grace period it is configured with, plus 2 s to exit', (name) => {
    const worker = service(name);
    const configured = environmentOf(worker).SHUTDOWN_GRACE_MS;
    const fallback = /SHUTDOWN_GRACE_MS:\s*duration\('([^']+)'/.exec(readText('packages/shared/src/config.ts'))?.[1];
    const grace = configured ?? fallback;
    expect(grace, 'cannot find the SHUTDOWN_GRACE_MS default in packages/shared/src/config.ts').toBeDefined();
    const graceMs = /^\d+$/.test(grace!) ? Number(grace) : durationMs(grace!);
    expect(graceMs).toBeGreaterThan(0);
    expect(durationMs(worker.stop_grace_period ?? '10s')).toBeGreaterThan(graceMs + 2000);
  });
});
