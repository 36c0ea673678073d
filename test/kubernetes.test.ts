/**
 * The Kubernetes manifests in deploy/kubernetes, checked statically (there is no cluster here):
 * each object against the Kubernetes API schema, and against what the images and the services'
 * configuration actually are: ports, probes, variables, stages and shutdown times.
 */
import { spawnSync } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { apiEnvSchema, groupName, LANES, loadConfig, PIPELINES, QueueKeys, workerEnvSchema } from '@conveyor/shared';
import { Deployment } from 'kubernetes-models/apps/v1';
import { Service } from 'kubernetes-models/v1';
import { PodDisruptionBudget } from 'kubernetes-models/policy/v1';
import { describe, expect, test } from 'vitest';
import { parseAllDocuments } from 'yaml';
import { selectStages } from '../apps/worker/src/stage-selection.js';

const dir = new URL('../deploy/kubernetes/', import.meta.url);
const root = new URL('..', import.meta.url);
const readText = (url: URL) => readFileSync(url, 'utf8');

interface Kustomization {
  resources: string[];
  images: { name: string; newName?: string; newTag?: string }[];
}
const kustomization = parseAllDocuments(readText(new URL('kustomization.yaml', dir)))[0]!.toJS() as Kustomization;

type Manifest = { apiVersion: string; kind: string; metadata: { name: string } } & Record<string, unknown>;
const manifests: Manifest[] = kustomization.resources.flatMap((file) =>
  parseAllDocuments(readText(new URL(file, dir))).map((document) => {
    expect(document.errors, file).toEqual([]);
    return document.toJS() as Manifest;
  }),
);
const ofKind = <T>(kind: string) => manifests.filter((manifest) => manifest.kind === kind) as unknown as T[];
const deployments = ofKind<Deployment>('Deployment');
const deployment = (name: string) => deployments.find((candidate) => candidate.metadata?.name === name)!;
const container = (name: string) => deployment(name).spec!.template.spec!.containers[0]!;

/** What each image is: the Dockerfile it is built from and the configuration its process reads. */
const images = {
  'conveyor-api': { dockerfile: 'Dockerfile.api', schema: apiEnvSchema },
  'conveyor-worker': { dockerfile: 'Dockerfile.worker', schema: workerEnvSchema },
} as const;
type ImageName = keyof typeof images;

/** The container's environment as its process would see it, Secret values stood in for. */
function environmentOf(name: string): Record<string, string> {
  const standIns: Record<string, string> = {
    REDIS_URL: 'redis://redis.example:6379',
    ADMIN_TOKEN: 'a-token-of-sixteen+',
    OPENAI_BASE_URL: 'http://vllm.example:8000/v1',
    OPENAI_API_KEY: 'token-abc123',
    OPENAI_CHAT_MODELS: 'llama3.1',
    OPENAI_EMBEDDING_MODELS: 'nomic-embed-text',
    OPENAI_TIMEOUT_MS: '2m',
  };
  return Object.fromEntries((container(name).env ?? []).map((variable) => [variable.name, variable.value ?? standIns[variable.name] ?? 'unknown secret']));
}

describe('deploy/kubernetes', () => {
  test('kustomization.yaml lists every manifest in the folder, and each names an image it sets a tag for', () => {
    const files = readdirSync(dir).filter((file) => /\.ya?ml$/.test(file) && file !== 'kustomization.yaml');
    expect([...kustomization.resources].sort()).toEqual(files.sort());
    expect(kustomization.images.map((image) => image.name).sort()).toEqual(Object.keys(images).sort());
    for (const image of kustomization.images) expect(image.newTag, image.name).toMatch(/^\d+\.\d+\.\d+$/);
  });

  test("each image's tag is the version package.json gives, and its registry is a placeholder to fill in", () => {
    const { version } = JSON.parse(readText(new URL('package.json', root))) as { version: string };
    for (const image of kustomization.images) expect(image.newTag, `${image.name}: newTag is not the version in package.json`).toBe(version);
    // Unedited, `kubectl apply -k` pulls docker.io/library/conveyor-*, which does not exist: each
    // image names its registry, or carries the commented line the README says to fill in.
    const text = readText(new URL('kustomization.yaml', dir));
    const imagesBlock = text.slice(text.search(/^images:/m));
    for (const image of kustomization.images.filter((candidate) => candidate.newName === undefined)) {
      const entry = new RegExp(`^\\s*- name: ${image.name}\\s*$([\\s\\S]*?)(?=^\\s*- name:|(?![\\s\\S]))`, 'm').exec(imagesBlock)?.[1] ?? '';
      expect(entry, `${image.name}: neither newName nor a "# newName: <registry>/${image.name}" line to uncomment`).toMatch(new RegExp(`^\\s*#\\s*newName:\\s*\\S+/${image.name}\\s*$`, 'm'));
    }
  });

  test('every object is valid against the Kubernetes API schema of its kind', () => {
    const models: Record<string, new (data: never) => { validate(): void }> = { Deployment, Service, PodDisruptionBudget };
    expect(manifests.length).toBeGreaterThanOrEqual(6);
    for (const manifest of manifests) {
      const Model = models[manifest.kind];
      expect(Model, `${manifest.kind} ${manifest.metadata.name}: no schema checked`).toBeDefined();
      expect(() => new Model!(manifest as never).validate(), `${manifest.kind} ${manifest.metadata.name}`).not.toThrow();
    }
  });

  test.each(['conveyor-api', 'conveyor-worker', 'conveyor-worker-embed'])('%s selects its own pods and runs an image built here, as the image user, read-only', (name) => {
    const spec = deployment(name).spec!;
    expect(spec.template.metadata!.labels).toMatchObject(spec.selector.matchLabels!);
    const image = container(name).image as ImageName;
    expect(Object.keys(images)).toContain(image);
    // The image's own command runs (tini, then node): no command or args override it.
    expect(container(name).command).toBeUndefined();
    expect(container(name).args).toBeUndefined();
    const dockerfile = readText(new URL(images[image].dockerfile, root));
    expect(dockerfile).toMatch(/^USER node$/m);
    // `node` is uid 1000 in the official Node images.
    expect(spec.template.spec!.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 1000 });
    expect(container(name).securityContext).toMatchObject({ allowPrivilegeEscalation: false, readOnlyRootFilesystem: true });
  });

  test.each(['conveyor-api', 'conveyor-worker', 'conveyor-worker-embed'])('%s sets only variables its configuration knows, with values it accepts', (name) => {
    const schema = images[container(name).image as ImageName].schema;
    const env = environmentOf(name);
    for (const variable of Object.keys(env)) expect(Object.keys(schema.shape), `${name}: ${variable}`).toContain(variable);
    expect(() => loadConfig(schema, env)).not.toThrow();
    const redis = container(name).env!.find((variable) => variable.name === 'REDIS_URL')!;
    expect(redis.valueFrom?.secretKeyRef).toMatchObject({ name: 'conveyor', key: 'REDIS_URL' });
    expect(redis.valueFrom?.secretKeyRef?.optional).toBeFalsy();
  });

  test('the API takes ADMIN_TOKEN from the Secret when it is there, and runs without it', () => {
    const token = container('conveyor-api').env!.find((variable) => variable.name === 'ADMIN_TOKEN');
    expect(token?.valueFrom?.secretKeyRef).toEqual({ name: 'conveyor', key: 'ADMIN_TOKEN', optional: true });
    const { ADMIN_TOKEN: _absent, ...withoutToken } = environmentOf('conveyor-api');
    expect(loadConfig(apiEnvSchema, withoutToken).ADMIN_TOKEN).toBeUndefined();
  });

  test('the API and the workers that run inference take the same OpenAI-compatible endpoint settings from the Secret when it has them, and run without them', () => {
    const openAi = (name: string) => (container(name).env ?? []).filter((variable) => variable.name.startsWith('OPENAI_'));
    for (const variable of [...openAi('conveyor-api'), ...openAi('conveyor-worker')]) {
      expect(variable.valueFrom?.secretKeyRef, variable.name).toEqual({ name: 'conveyor', key: variable.name, optional: true });
    }
    const models = ['OPENAI_BASE_URL', 'OPENAI_CHAT_MODELS', 'OPENAI_EMBEDDING_MODELS'];
    expect(openAi('conveyor-api').map((variable) => variable.name)).toEqual(models);
    expect(openAi('conveyor-worker').map((variable) => variable.name)).toEqual(expect.arrayContaining([...models, 'OPENAI_API_KEY']));
    expect(loadConfig(apiEnvSchema, environmentOf('conveyor-api')).OPENAI_CHAT_MODELS).toEqual(loadConfig(workerEnvSchema, environmentOf('conveyor-worker')).OPENAI_CHAT_MODELS);
    const without = (name: string) => Object.fromEntries(Object.entries(environmentOf(name)).filter(([variable]) => !variable.startsWith('OPENAI_')));
    expect(loadConfig(apiEnvSchema, without('conveyor-api')).OPENAI_CHAT_MODELS).toEqual([]);
    expect(loadConfig(workerEnvSchema, without('conveyor-worker')).OPENAI_BASE_URL).toBeUndefined();
  });

  test.each([
    ['conveyor-api', 'PORT'],
    ['conveyor-worker', 'WORKER_PORT'],
    ['conveyor-worker-embed', 'WORKER_PORT'],
  ] as const)('%s declares the port its process listens on (%s) and probes /healthz and /readyz there', (name, portVariable) => {
    const schema = images[container(name).image as ImageName].schema;
    const config = loadConfig(schema, environmentOf(name)) as Record<string, unknown>;
    const [port] = container(name).ports!;
    expect(port!.containerPort).toBe(config[portVariable]);
    expect(readText(new URL(images[container(name).image as ImageName].dockerfile, root))).toMatch(new RegExp(`^EXPOSE ${port!.containerPort}$`, 'm'));
    expect(container(name).livenessProbe?.httpGet).toMatchObject({ path: '/healthz', port: port!.name });
    expect(container(name).readinessProbe?.httpGet).toMatchObject({ path: '/readyz', port: port!.name });
    const annotations = deployment(name).spec!.template.metadata!.annotations!;
    expect(annotations['prometheus.io/port']).toBe(String(port!.containerPort));
    expect(annotations['prometheus.io/path']).toBe('/metrics');
  });

  test('the Service sends traffic to the API pods on their named HTTP port', () => {
    const [service] = ofKind<Service>('Service');
    expect(service!.spec!.selector).toEqual(deployment('conveyor-api').spec!.selector.matchLabels);
    expect(service!.spec!.ports![0]!.targetPort).toBe(container('conveyor-api').ports![0]!.name);
  });

  test.each(['conveyor-api', 'conveyor-worker', 'conveyor-worker-embed'])('%s is given longer to stop than its drain (preStop + SHUTDOWN_GRACE_MS + 2 s)', (name) => {
    const schema = images[container(name).image as ImageName].schema;
    const graceMs = loadConfig(schema, environmentOf(name)).SHUTDOWN_GRACE_MS;
    const preStop = container(name).lifecycle?.preStop?.exec?.command;
    const preStopMs = preStop ? Number(preStop[1]) * 1000 : 0;
    expect(deployment(name).spec!.template.spec!.terminationGracePeriodSeconds! * 1000).toBeGreaterThan(preStopMs + graceMs + 2000);
  });

  test.each([
    // Measured (README, Operations): an idle API takes 80-100 MB, and holds up to BODY_BUDGET
    // (64 MiB) of upload and batch bodies about three times over; a worker serving every stage but
    // embed 434 MB with 8 plain-text documents at once, and up to 1149 MB with both readers at
    // their limit (as threads; processes add about 60 MB each); the embed worker under 270 MB.
    ['conveyor-api', 100, 100 + 3 * 64 * 1.048576],
    ['conveyor-worker', 434, 1149 + 2 * 60],
    ['conveyor-worker-embed', 270, 270],
  ] as const)('%s requests the memory it normally uses, and is allowed what it takes at worst', (name, normalMB, worstMB) => {
    const bytes = (quantity: string | number | undefined) => {
      const match = /^(\d+(?:\.\d+)?)(Ki|Mi|Gi|k|M|G)?$/.exec(String(quantity ?? ''));
      expect(match, `${name}: not a memory quantity: ${quantity}`).not.toBeNull();
      const units: Record<string, number> = { Ki: 1024, Mi: 1024 ** 2, Gi: 1024 ** 3, k: 1e3, M: 1e6, G: 1e9 };
      return Number(match![1]) * (match![2] ? units[match![2]]! : 1);
    };
    const { requests, limits } = container(name).resources!;
    const request = bytes(requests?.memory as string);
    const limit = bytes(limits?.memory as string);
    expect(request, `${name}: a request below normal use packs pods onto nodes that cannot hold them`).toBeGreaterThanOrEqual(normalMB * 1e6);
    expect(limit, `${name}: the limit is below the worst case measured`).toBeGreaterThanOrEqual(worstMB * 1e6);
    expect(request).toBeLessThanOrEqual(limit);
  });

  test('the two kinds of worker together serve every stage of every pipeline, the embed stage by its own pods', () => {
    const stagesOf = (name: string) => selectStages(environmentOf(name).WORKER_STAGES, {}).map((s) => `${s.pipeline.name}:${s.stage}`);
    const all = PIPELINES.flatMap((pipeline) => pipeline.stages.map((stage) => `${pipeline.name}:${stage}`));
    expect(stagesOf('conveyor-worker-embed')).toEqual(['documents:embed']);
    expect([...stagesOf('conveyor-worker'), ...stagesOf('conveyor-worker-embed')].sort()).toEqual([...all].sort());
  });

  test('disruption budgets keep an API pod serving and take workers down one at a time', () => {
    const budgets = ofKind<PodDisruptionBudget>('PodDisruptionBudget');
    const budgetFor = (name: string) => budgets.find((budget) => JSON.stringify(budget.spec!.selector!.matchLabels) === JSON.stringify(deployment(name).spec!.selector.matchLabels));
    expect(budgetFor('conveyor-api')?.spec?.minAvailable).toBe(1);
    expect(budgetFor('conveyor-worker')?.spec?.maxUnavailable).toBe(1);
    expect(budgetFor('conveyor-worker-embed')?.spec?.maxUnavailable).toBe(1);
    // While Redis is down every pod is unready; the default policy (IfHealthyBudget) then blocks
    // every node drain, since no unready pod may be evicted while the budget is not met.
    for (const budget of budgets) expect(budget.spec?.unhealthyPodEvictionPolicy, budget.metadata!.name).toBe('AlwaysAllow');
    // A probe of a process whose event loop is busy for a moment waits for its answer.
    for (const name of ['conveyor-api', 'conveyor-worker', 'conveyor-worker-embed']) {
      expect(container(name).livenessProbe?.timeoutSeconds, name).toBeGreaterThanOrEqual(5);
      expect(container(name).readinessProbe?.timeoutSeconds, name).toBeGreaterThanOrEqual(5);
    }
    expect(deployment('conveyor-api').spec!.replicas).toBeGreaterThan(1);
  });
});

describe('deploy/kubernetes-keda', () => {
  const kedaDir = new URL('../deploy/kubernetes-keda/', import.meta.url);
  const keda = parseAllDocuments(readText(new URL('kustomization.yaml', kedaDir)))[0]!.toJS() as { resources: string[]; patches: { target: { kind: string; name: string }; patch: string }[] };
  const objects = keda.resources
    .filter((resource) => resource !== '../kubernetes')
    .flatMap((file) =>
      parseAllDocuments(readText(new URL(file, kedaDir))).map((document) => {
        expect(document.errors, file).toEqual([]);
        return document.toJS() as Manifest;
      }),
    );
  interface Trigger {
    type: string;
    metadata: Record<string, string>;
    authenticationRef: { name: string };
  }
  interface ScalingPolicy {
    type: string;
    value: number;
    periodSeconds: number;
  }
  interface ScaleDown {
    stabilizationWindowSeconds?: number;
    selectPolicy?: string;
    policies?: ScalingPolicy[];
  }
  type ScaledObject = Manifest & {
    spec: {
      scaleTargetRef: { name: string };
      minReplicaCount: number;
      maxReplicaCount: number;
      advanced?: { horizontalPodAutoscalerConfig?: { behavior?: { scaleDown?: ScaleDown } } };
      triggers: Trigger[];
    };
  };
  const scaledObjects = objects.filter((object) => object.kind === 'ScaledObject') as ScaledObject[];
  const authentications = objects.filter((object) => object.kind === 'TriggerAuthentication');

  test('builds on deploy/kubernetes, beside it and not in it, and adds only KEDA objects', () => {
    expect(new URL(keda.resources[0]!, kedaDir).href).toBe(new URL('kubernetes', new URL('..', kedaDir)).href);
    // kustomize refuses an overlay inside its base ("cycle detected"): in deploy/kubernetes/keda, with '..', it could not be applied.
    expect(kedaDir.href.startsWith(dir.href)).toBe(false);
    expect(objects.map((object) => `${object.apiVersion} ${object.kind}`).every((kind) => /^keda\.sh\/v1alpha1 (ScaledObject|TriggerAuthentication)$/.test(kind))).toBe(true);
  });

  // Where kubectl is (it is on these machines, with its kustomize): both folders build as the README applies them.
  const kubectl = spawnSync('kubectl', ['version', '--client'], { encoding: 'utf8' }).status === 0;
  test.runIf(kubectl)('kubectl kustomize builds both folders; the overlay adds its objects and drops the workers\' replicas', () => {
    const build = (folder: URL) => {
      const run = spawnSync('kubectl', ['kustomize', fileURLToPath(folder)], { encoding: 'utf8' });
      expect(run.stderr, fileURLToPath(folder)).toBe('');
      expect(run.status).toBe(0);
      return parseAllDocuments(run.stdout).map((document) => document.toJS() as Manifest & { spec?: { replicas?: number } });
    };
    const base = build(dir);
    const withKeda = build(kedaDir);
    expect(withKeda.map((object) => `${object.kind}/${object.metadata.name}`).sort()).toEqual([...base, ...objects].map((object) => `${object.kind}/${object.metadata.name}`).sort());
    const replicas = (objects: typeof base) => Object.fromEntries(objects.filter((object) => object.kind === 'Deployment').map((object) => [object.metadata.name, object.spec?.replicas]));
    expect(replicas(withKeda)).toEqual({ ...replicas(base), 'conveyor-worker': undefined, 'conveyor-worker-embed': undefined });
  });

  test("KEDA owns the worker Deployments' replica counts: the overlay drops theirs, so an apply does not reset them", () => {
    const scaled = scaledObjects.map((object) => object.spec.scaleTargetRef.name).sort();
    const removed = keda.patches.filter(({ patch }) => /op: remove\s+path: \/spec\/replicas/.test(patch)).map(({ target }) => target.name).sort();
    expect(removed).toEqual(scaled);
    for (const { target } of keda.patches) expect(target.kind).toBe('Deployment');
  });

  test('KEDA reaches Redis with the address, ACL user and password of the Secret conveyor-keda', () => {
    const [authentication] = authentications as (Manifest & { spec: { secretTargetRef: { parameter: string; name: string; key: string }[] } })[];
    expect(authentication!.spec.secretTargetRef.map(({ parameter, name }) => `${parameter} ${name}`)).toEqual(['address conveyor-keda', 'username conveyor-keda', 'password conveyor-keda']);
  });

  /**
   * What a redis-streams trigger counts, as KEDA reads its metadata: lagCount makes it the group's
   * lag (XINFO GROUPS); otherwise, with a consumerGroup, the group's pending entries (XPENDING,
   * pendingEntriesCount, the default mode); with neither, the stream's length (XLEN).
   */
  const modeOf = ({ metadata }: Trigger) => ('lagCount' in metadata ? 'lag' : 'consumerGroup' in metadata ? 'pending' : 'length');
  const streamsOf = (triggers: Trigger[]) => triggers.map(({ metadata }) => ({ stream: metadata.stream, consumerGroup: metadata.consumerGroup }));

  /** Every lane of every stage the Deployment's workers serve: the stream and the group that reads it. */
  function servedStreams(name: string) {
    const environment = environmentOf(name);
    const config = loadConfig(workerEnvSchema, environment);
    return selectStages(environment.WORKER_STAGES, config.QUEUE_PARTITIONS).flatMap(({ pipeline, stage }) =>
      LANES.map((lane) => ({ stream: new QueueKeys(config.KEY_PREFIX, pipeline.name).stream(stage, lane), consumerGroup: groupName(stage) })),
    );
  }

  test('each worker Deployment is scaled on the group lag and the pending entries of every lane of every stage it serves, and on nothing else', () => {
    const workerDeployments = deployments.filter((candidate) => container(candidate.metadata!.name!).image === 'conveyor-worker').map((candidate) => candidate.metadata!.name!);
    expect(scaledObjects.map((object) => object.spec.scaleTargetRef.name).sort()).toEqual(workerDeployments.sort());
    for (const object of scaledObjects) {
      const name = object.spec.scaleTargetRef.name;
      const expected = servedStreams(name);
      const triggers = object.spec.triggers;
      for (const trigger of triggers) {
        expect(trigger.type).toBe('redis-streams');
        expect(authentications.map((auth) => auth.metadata.name)).toContain(trigger.authenticationRef.name);
      }
      expect(triggers.map(modeOf).filter((mode) => mode === 'length'), `${name}: a trigger on the stream length`).toEqual([]);

      const lag = triggers.filter((trigger) => modeOf(trigger) === 'lag');
      expect(streamsOf(lag), name).toEqual(expected);
      for (const trigger of lag) {
        // Lag (XINFO GROUPS, Redis 7) counts what no worker has taken yet, and can scale to zero.
        expect(Number(trigger.metadata.lagCount), name).toBeGreaterThan(0);
        // Some KEDA versions refuse a lagCount trigger without it; 0 activates on any lag.
        expect(trigger.metadata.activationLagCount, name).toBe('0');
      }
      expect(object.spec.minReplicaCount).toBeGreaterThanOrEqual(1);
      expect(object.spec.maxReplicaCount).toBeGreaterThan(object.spec.minReplicaCount);
    }
  });

  test('every stream scaled on its lag is scaled on its pending entries too, one replica per CONCURRENCY jobs held', () => {
    for (const object of scaledObjects) {
      const name = object.spec.scaleTargetRef.name;
      const { CONCURRENCY } = loadConfig(workerEnvSchema, environmentOf(name));
      const lag = object.spec.triggers.filter((trigger) => modeOf(trigger) === 'lag');
      const pending = object.spec.triggers.filter((trigger) => modeOf(trigger) === 'pending');
      // The lag reads 0 once the workers have taken the backlog, while they still run it: only the
      // pending entries (jobs held, and jobs released at shutdown until taken back) keep replicas.
      const keys = (triggers: Trigger[]) => streamsOf(triggers).map(({ stream, consumerGroup }) => `${stream} (group ${consumerGroup})`).sort();
      expect(keys(pending), `${name}: streams and groups of the pending triggers`).toEqual(keys(lag));
      for (const trigger of pending) {
        // A replica holding CONCURRENCY jobs of one stream is worth keeping, no more.
        expect(Number(trigger.metadata.pendingEntriesCount), `${name}: ${trigger.metadata.stream}`).toBe(CONCURRENCY);
      }
    }
  });

  test('replicas go away gently: an explicit scale-down window and policy (cooldownPeriod only paces scaling to zero)', () => {
    for (const object of scaledObjects) {
      const name = object.spec.scaleTargetRef.name;
      const scaleDown = object.spec.advanced?.horizontalPodAutoscalerConfig?.behavior?.scaleDown;
      expect(scaleDown, `${name}: no advanced.horizontalPodAutoscalerConfig.behavior.scaleDown`).toBeDefined();
      // At least a minute of recommendations before a replica goes (the HPA's default is 5 minutes).
      expect(scaleDown!.stabilizationWindowSeconds, name).toBeGreaterThanOrEqual(60);
      expect(scaleDown!.selectPolicy ?? 'Max', name).not.toBe('Disabled');
      const policies = scaleDown!.policies ?? [];
      expect(policies.length, `${name}: no scale-down policy`).toBeGreaterThan(0);
      for (const policy of policies) {
        expect(policy.periodSeconds, name).toBeGreaterThanOrEqual(30);
        // A few pods, or a small share of them, per period: never the whole fleet at once.
        expect(['Pods', 'Percent'], name).toContain(policy.type);
        expect(policy.value, name).toBeLessThanOrEqual(policy.type === 'Pods' ? Math.max(1, Math.floor(object.spec.maxReplicaCount / 4)) : 25);
      }
    }
  });
});
