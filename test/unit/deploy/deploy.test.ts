/**
 * The deployment artifacts (Dockerfile, docker-compose.yml, helm/) checked by reading them: there is no
 * Docker engine and no helm binary on the build machine, so nothing here builds or renders anything.
 * Every variable they set must be one `loadConfig` knows, with a value it accepts; every health check must
 * hit a route the app serves; the worker must be given longer than SHUTDOWN_GRACE_SEC to drain.
 */
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { Script } from 'node:vm';
import type { FastifyInstance } from 'fastify';
import { afterAll, beforeAll, describe, expect, test } from 'vitest';
import { parse } from 'yaml';
import { CONFIG_VARIABLES, loadConfig } from '../../../src/adapters/config/env.ts';
import { createLogger } from '../../../src/adapters/logging/logger.ts';
import { parseSentinels } from '../../../src/adapters/redis/client.ts';
import type { RedisTaskStore } from '../../../src/adapters/redis/task-store.ts';
import { buildApp } from '../../../src/api/app.ts';

const ROOT = new URL('../../../', import.meta.url);
const read = (path: string) => readFileSync(new URL(path, ROOT), 'utf8');
// biome-ignore lint/suspicious/noExplicitAny: parsed YAML, walked by key and checked by the assertions
type Yaml = any;

const KNOWN = new Set<string>(CONFIG_VARIABLES);
const DEFAULTS = loadConfig({}) as Record<string, unknown>;
const pkg = JSON.parse(read('package.json')) as {
  version: string;
  dependencies: Record<string, string>;
  allowScripts?: unknown;
};

// --- the app's routes: built in memory with a Redis stub that answers PING --------------------------------
let app: FastifyInstance;
beforeAll(async () => {
  const store = { redis: { ping: async () => 'PONG' } } as unknown as RedisTaskStore;
  app = await buildApp({ store, queueNames: ['critical', 'default', 'low'], log: createLogger('silent') });
});
afterAll(() => app?.close());

/** The status the app answers a GET of `path` with (an unknown path gets the 404 handler). */
const served = async (path: string) => (await app.inject({ method: 'GET', url: path })).statusCode;

const HTTP_URL = /https?:\/\/[^\s'"`)]+/g;
const urlsIn = (text: string) => [...text.matchAll(HTTP_URL)].map((m) => new URL(m[0]));

/** A `node -e` health-check argv: its command, its flag and the URLs its code calls; the code must compile. */
const nodeCheck = (argv: readonly string[]) => {
  const [cmd, flag, code = ''] = argv;
  new Script(code); // throws on a syntax error
  return { cmd, flag, urls: urlsIn(code) };
};

// --- Dockerfile ---------------------------------------------------------------------------------------------
type Instruction = { stage: number; keyword: string; args: string };

/** Instructions with their stage index; continuation lines joined, comments dropped. */
const parseDockerfile = (text: string): Instruction[] => {
  const logical: string[] = [];
  let pending = '';
  for (const raw of text.split('\n')) {
    const line = raw.trim();
    if (line.startsWith('#') || (line === '' && pending === '')) continue;
    if (line.endsWith('\\')) {
      pending += `${line.slice(0, -1)} `;
      continue;
    }
    logical.push(pending + line);
    pending = '';
  }
  let stage = -1;
  return logical.map((l) => {
    const [keyword = '', ...rest] = l.split(/\s+/);
    if (keyword.toUpperCase() === 'FROM') stage++;
    return { stage, keyword: keyword.toUpperCase(), args: rest.join(' ') };
  });
};

const dockerfile = parseDockerfile(read('Dockerfile'));
const lastStage = Math.max(...dockerfile.map((i) => i.stage));
const final = dockerfile.filter((i) => i.stage === lastStage);
const all = (keyword: string, among = dockerfile) => among.filter((i) => i.keyword === keyword);
/** `CMD ["a", "b"]` or `HEALTHCHECK --opt=x CMD ["a"]`: the exec-form argv. */
const execForm = (args: string): string[] => {
  const json = args.slice(args.indexOf('['));
  return JSON.parse(json) as string[];
};

describe('Dockerfile', () => {
  test('is multi-stage, every stage on node 24 slim (major pinned)', () => {
    const froms = all('FROM').map((i) => i.args.split(/\s+/)[0]);
    expect(froms.length).toBeGreaterThanOrEqual(2);
    for (const image of froms) expect(image).toMatch(/^node:24(\.\d+){0,2}-slim$/);
  });

  test('a deps stage installs production dependencies with npm ci, package.json (allowScripts) copied first', () => {
    expect(pkg.allowScripts).toBeDefined();
    const depsStage = dockerfile.find((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args))?.stage;
    expect(depsStage).toBeDefined();
    expect(depsStage).not.toBe(lastStage);
    const stage = dockerfile.filter((i) => i.stage === depsStage);
    const ci = stage.findIndex((i) => i.keyword === 'RUN' && /\bnpm ci\b/.test(i.args));
    const run = stage[ci]?.args ?? '';
    expect(run).toMatch(/--omit=dev\b/);
    // either flag would bypass the allowScripts policy in package.json
    expect(run).not.toMatch(/--ignore-scripts|--dangerously-allow-all-scripts/);
    const copied = stage
      .slice(0, ci)
      .filter((i) => i.keyword === 'COPY')
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(copied).toEqual(expect.arrayContaining(['package.json', 'package-lock.json']));
    // the runtime stage takes node_modules from the deps stage
    const name = stage[0]?.args.match(/\bAS\s+(\S+)/i)?.[1];
    expect(name).toBeDefined();
    expect(all('COPY', final).some((i) => i.args.includes(`--from=${name}`) && i.args.includes('node_modules'))).toBe(
      true,
    );
  });

  test('the runtime stage copies src/ and package.json, sets NODE_ENV=production and exposes 8080', () => {
    const sources = all('COPY', final)
      .filter((i) => !i.args.includes('--from='))
      .flatMap((i) => i.args.split(/\s+/).slice(0, -1));
    expect(sources).toEqual(expect.arrayContaining(['src', 'package.json']));
    expect(all('ENV', final).map((i) => i.args)).toContain('NODE_ENV=production');
    expect(all('EXPOSE', final).flatMap((i) => i.args.split(/\s+/))).toContain(String(DEFAULTS.PORT));
  });

  test('runs as the non-root node user', () => {
    const user = all('USER', final).at(-1)?.args;
    expect(user).toBe('node');
    // and nothing after it switches back
    const at = final.findLastIndex((i) => i.keyword === 'USER');
    expect(final.findIndex((i) => i.keyword === 'CMD')).toBeGreaterThan(at);
  });

  test('CMD runs src/main.ts with node, in exec form so node gets SIGTERM', () => {
    const cmds = all('CMD', final);
    expect(cmds).toHaveLength(1);
    expect(execForm(cmds[0]?.args ?? '')).toEqual(['node', 'src/main.ts']);
  });

  test('the HEALTHCHECK calls /health on 8080 with node itself', async () => {
    const checks = all('HEALTHCHECK', final);
    expect(checks).toHaveLength(1);
    const { cmd, flag, urls } = nodeCheck(execForm(checks[0]?.args ?? ''));
    expect([cmd, flag]).toEqual(['node', '-e']);
    expect(urls.map((u) => `${u.hostname}:${u.port}${u.pathname}`)).toEqual(['127.0.0.1:8080/health']);
    for (const u of urls) expect(await served(u.pathname)).toBe(200);
  });

  test('.dockerignore keeps the build context to what the image needs', () => {
    const ignored = read('.dockerignore')
      .split('\n')
      .map((l) => l.trim())
      .filter((l) => l && !l.startsWith('#'));
    expect(ignored).toEqual(expect.arrayContaining(['node_modules', 'data', '.git', 'test', 'bench', 'coverage']));
    for (const needed of ['src', 'package.json', 'package-lock.json']) expect(ignored).not.toContain(needed);
  });

  test('src/ imports only production dependencies (the image has no devDependencies)', () => {
    const files = (dir: string): string[] =>
      readdirSync(new URL(dir, ROOT)).flatMap((name) => {
        const path = `${dir}/${name}`;
        return statSync(new URL(path, ROOT)).isDirectory() ? files(path) : path.endsWith('.ts') ? [path] : [];
      });
    const packages = new Set(
      files('src').flatMap((f) =>
        // `from 'x'`, `import 'x'`, `import('x')`
        [...read(f).matchAll(/\b(?:from|import)\s*\(?\s*['"]([^'".][^'"]*)['"]/g)]
          .map((m) => m[1] ?? '')
          .filter((s) => !s.startsWith('node:'))
          .map((s) =>
            s
              .split('/')
              .slice(0, s.startsWith('@') ? 2 : 1)
              .join('/'),
          ),
      ),
    );
    expect(packages.size).toBeGreaterThan(0);
    for (const name of packages) expect(Object.keys(pkg.dependencies), name).toContain(name);
  });
});

// --- docker-compose.yml --------------------------------------------------------------------------------------
const compose: Yaml = parse(read('docker-compose.yml'));
const services: Record<string, Yaml> = compose.services;

/** Compose environment, as a map or a list of KEY=VALUE, as strings. */
/** Compose interpolation as with nothing set in the shell: `${VAR:-default}` and `${VAR-default}` give the default. */
const interpolated = (value: string): string =>
  value.replace(/\$\{[A-Z0-9_]+(?::?-([^}]*))?\}/g, (_, fallback: string | undefined) => fallback ?? '');

const envOf = (service: Yaml): Record<string, string> => {
  const env = service?.environment ?? {};
  if (Array.isArray(env)) {
    return Object.fromEntries(
      env.map((e: string) => [e.slice(0, e.indexOf('=')), interpolated(e.slice(e.indexOf('=') + 1))]),
    );
  }
  return Object.fromEntries(Object.entries(env).map(([k, v]) => [k, v == null ? '' : interpolated(String(v))]));
};

/** Compose durations: 90s, 1m30s, 2m, 1h, 500ms. */
const durationSec = (value: string | number): number => {
  const text = String(value);
  const parts = [...text.matchAll(/(\d+(?:\.\d+)?)(ms|us|h|m|s)/g)];
  if (parts.length === 0 || parts.map((p) => p[0]).join('') !== text) throw new Error(`not a duration: ${text}`);
  const unit = { h: 3600, m: 60, s: 1, ms: 0.001, us: 0.000001 } as const;
  return parts.reduce((sum, p) => sum + Number(p[1]) * unit[p[2] as keyof typeof unit], 0);
};

const APP_SERVICES = ['api', 'worker'] as const;

describe('docker-compose.yml', () => {
  test('durations parse the compose way', () => {
    expect([durationSec('90s'), durationSec('1m30s'), durationSec('2m')]).toEqual([90, 90, 120]);
    expect(() => durationSec('90')).toThrow();
  });

  test('redis: redis 7, append-only with fsync every second, a named volume, a redis-cli ping health check', () => {
    const redis = services.redis;
    expect(String(redis.image)).toMatch(/^redis:7(\.|-|$)/);
    const command = Array.isArray(redis.command) ? redis.command.join(' ') : String(redis.command);
    expect(command).toMatch(/--appendonly yes\b/);
    expect(command).toMatch(/--appendfsync everysec\b/);
    const volumes = (redis.volumes as string[]).map((v) => v.split(':'));
    const data = volumes.find(([, target]) => target === '/data');
    expect(data?.[0]).toBeDefined();
    expect(Object.keys(compose.volumes ?? {})).toContain(data?.[0]);
    expect(redis.healthcheck.test).toEqual(['CMD', 'redis-cli', 'ping']);
  });

  test.each(APP_SERVICES)('%s: built from this directory, waits for a healthy redis', (name) => {
    const service = services[name];
    expect(service.build).toBe('.');
    expect(service.depends_on?.redis?.condition).toBe('service_healthy');
  });

  test.each(APP_SERVICES)('%s: every variable is one loadConfig knows, and loadConfig accepts the values', (name) => {
    const env = envOf(services[name]);
    const unknown = Object.keys(env).filter((k) => !KNOWN.has(k));
    expect(unknown).toEqual([]);
    const config = loadConfig(env);
    expect(config.MODE).toBe(name);
    // without REDIS_URL (or Sentinel) the process would try to start a redis-server the image does not have
    expect(env.REDIS_URL).toBeTruthy();
    expect(Object.keys(services)).toContain(new URL(config.REDIS_URL).hostname);
    // a fixed WORKER_ID would be shared by every replica of `--scale worker=N`
    expect(env.WORKER_ID).toBeUndefined();
  });

  test('worker: WORKER_CONCURRENCY is set', () => {
    expect(envOf(services.worker).WORKER_CONCURRENCY).toBeDefined();
  });

  test('api: publishes the port it listens on, and its health check calls /health there with node', async () => {
    const api = services.api;
    const port = loadConfig(envOf(api)).PORT;
    const containerPorts = (api.ports as string[]).map((p) => Number(String(p).split(':').at(-1)));
    expect(containerPorts).toContain(port);
    const { cmd, flag, urls } = nodeCheck((api.healthcheck.test as string[]).slice(1));
    expect(api.healthcheck.test[0]).toBe('CMD');
    expect([cmd, flag]).toEqual(['node', '-e']);
    expect(urls.map((u) => [u.hostname, Number(u.port), u.pathname])).toEqual([['127.0.0.1', port, '/health']]);
    for (const u of urls) expect(await served(u.pathname)).toBe(200);
  });

  test('worker: the image’s HTTP health check is disabled (MODE=worker serves no HTTP)', () => {
    expect(services.worker.healthcheck?.disable).toBe(true);
  });

  test('worker: stop_grace_period exceeds SHUTDOWN_GRACE_SEC, so SIGTERM can drain', () => {
    const worker = services.worker;
    const grace = loadConfig(envOf(worker)).SHUTDOWN_GRACE_SEC;
    expect(worker.stop_grace_period).toBeDefined();
    expect(durationSec(worker.stop_grace_period)).toBeGreaterThan(grace);
  });
});

// --- helm -----------------------------------------------------------------------------------------------------
const chart: Yaml = parse(read('helm/Chart.yaml'));
const values: Yaml = parse(read('helm/values.yaml'));
const TEMPLATE_DIR = 'helm/templates';
const templates = Object.fromEntries(
  readdirSync(new URL(`${TEMPLATE_DIR}/`, ROOT)).map((f) => [f, read(`${TEMPLATE_DIR}/${f}`)]),
) as Record<string, string>;
const allTemplates = Object.values(templates).join('\n');
const template = (name: string) => {
  const text = templates[name];
  if (text === undefined) throw new Error(`no ${TEMPLATE_DIR}/${name}`);
  return text;
};

/** Variables the chart sets outside values.env; every other one of loadConfig's is in values.env. */
const SET_ELSEWHERE = {
  MODE: 'per Deployment',
  PORT: 'the API container port',
  REDIS_URL: 'redis.url',
  REDIS_SENTINEL_ADDR: 'redis.sentinel.addr',
  REDIS_MASTER_NAME: 'redis.sentinel.masterName',
  REDIS_PASSWORD: 'redis.passwordSecret',
  REDIS_SENTINEL_PASSWORD: 'redis.sentinel.passwordSecret',
  WORKER_ID: 'never shared: each pod defaults to its own',
  ADMIN_API_KEY: 'adminKeySecret',
  ENCRYPTION_KEY: 'encryptionKeySecret',
  REDIS_DATA_DIR: 'only for a locally started redis-server',
} as const;

/** `- name: UPPER_CASE` in a container's env (Kubernetes object names are lower case). */
const envNamesIn = (text: string) =>
  [...text.matchAll(/^\s*-?\s*name:\s*"?([A-Z][A-Z0-9_]*)"?\s*$/gm)].map((m) => m[1]);
/** The literal value of `- name: X` / `value: v`. */
const literalEnv = (text: string, name: string) =>
  text.match(new RegExp(`- name: ${name}\\s*\\n\\s*value:\\s*"?([^"\\n]*)"?`))?.[1];
/** Every `.Values.a.b` path (also `$.Values.a.b`). */
const valuesRefs = (text: string) => [...text.matchAll(/\.Values((?:\.[A-Za-z_][A-Za-z0-9_]*)+)/g)].map((m) => m[1]);
const lookup = (root: Yaml, path: string) =>
  path
    .split('.')
    .filter(Boolean)
    .reduce<{ found: boolean; value: Yaml }>(
      ({ found, value }, key) =>
        found && value !== null && typeof value === 'object' && key in value
          ? { found: true, value: value[key] }
          : { found: false, value: undefined },
      { found: true, value: root },
    );

/** The environment a pod of the chart gets with the default values. */
const helmEnv = (mode: 'api' | 'worker'): Record<string, string> => ({
  ...Object.fromEntries(Object.entries(values.env).map(([k, v]) => [k, String(v)])),
  MODE: literalEnv(template(`${mode}-deployment.yaml`), 'MODE') ?? '',
  ...(mode === 'api' ? { PORT: literalEnv(template('api-deployment.yaml'), 'PORT') ?? '' } : {}),
  ...(values.redis.sentinel.addr
    ? { REDIS_SENTINEL_ADDR: values.redis.sentinel.addr, REDIS_MASTER_NAME: values.redis.sentinel.masterName }
    : { REDIS_URL: values.redis.url }),
});

describe('helm chart', () => {
  test('Chart.yaml: apiVersion v2, name task-dispatcher, appVersion the package’s version', () => {
    expect(chart.apiVersion).toBe('v2');
    expect(chart.name).toBe('task-dispatcher');
    expect(String(chart.version)).toMatch(/^\d+\.\d+\.\d+/);
    expect(String(chart.appVersion)).toBe(pkg.version);
  });

  test('the expected templates are there', () => {
    expect(Object.keys(templates)).toEqual(
      expect.arrayContaining([
        '_helpers.tpl',
        'api-deployment.yaml',
        'worker-deployment.yaml',
        'service.yaml',
        'configmap.yaml',
      ]),
    );
  });

  test('templates are balanced Go templates: every {{ closed, every if/with/range/define ended', () => {
    for (const [name, text] of Object.entries(templates)) {
      const opens = text.split('{{').length - 1;
      expect(text.split('}}').length - 1, name).toBe(opens);
      const actions = [...text.matchAll(/\{\{-?\s*(\/\*[\s\S]*?\*\/|[^}]*?)\s*-?\}\}/g)].map((m) => m[1] ?? '');
      expect(actions.length, name).toBe(opens);
      let depth = 0;
      for (const a of actions) {
        if (/^(if|with|range|define|block)\b/.test(a)) depth++;
        if (/^end\b/.test(a)) depth--;
        expect(depth, `${name}: {{ ${a} }}`).toBeGreaterThanOrEqual(0);
      }
      expect(depth, name).toBe(0);
    }
  });

  test('every .Values path the templates use exists in values.yaml', () => {
    const refs = [...new Set(valuesRefs(allTemplates))];
    expect(refs.length).toBeGreaterThan(10);
    const missing = refs.filter((r) => r !== undefined && !lookup(values, r).found);
    expect(missing).toEqual([]);
    // the lookup itself tells a missing path
    expect(lookup(values, '.redis.nope').found).toBe(false);
  });

  test('values.env holds only variables loadConfig knows, with env.ts’s defaults, and all the others', () => {
    const env = values.env as Record<string, unknown>;
    expect(Object.keys(env).filter((k) => !KNOWN.has(k))).toEqual([]);
    for (const [k, v] of Object.entries(env)) expect(String(v), k).toBe(String(DEFAULTS[k]));
    // a variable added to env.ts has to be placed: in values.env or SET_ELSEWHERE
    expect([...Object.keys(env), ...Object.keys(SET_ELSEWHERE)].sort()).toEqual([...CONFIG_VARIABLES].sort());
  });

  test('every variable named in the templates is one loadConfig knows', () => {
    const names = [...new Set(envNamesIn(allTemplates))];
    expect(names).toEqual(
      expect.arrayContaining(['MODE', 'PORT', 'REDIS_URL', 'REDIS_SENTINEL_ADDR', 'REDIS_MASTER_NAME']),
    );
    expect(names.filter((n) => n !== undefined && !KNOWN.has(n))).toEqual([]);
  });

  test.each(['api', 'worker'] as const)('%s pods: loadConfig accepts what the chart gives them', (mode) => {
    const env = helmEnv(mode);
    const config = loadConfig(env);
    expect(config.MODE).toBe(mode);
    expect(env.REDIS_URL || env.REDIS_SENTINEL_ADDR).toBeTruthy();
    if (env.REDIS_SENTINEL_ADDR) expect(parseSentinels(env.REDIS_SENTINEL_ADDR).length).toBeGreaterThan(0);
    // Sentinel values, when someone sets them, pass too
    loadConfig({ ...env, REDIS_SENTINEL_ADDR: 'sentinel:26379', REDIS_MASTER_NAME: values.redis.sentinel.masterName });
  });

  test('the Redis passwords come from Secrets named in values', () => {
    for (const name of ['REDIS_PASSWORD', 'REDIS_SENTINEL_PASSWORD']) {
      expect(allTemplates, name).toMatch(
        new RegExp(`- name: ${name}\\s*\\n\\s*valueFrom:\\s*\\n\\s*secretKeyRef:\\s*\\n\\s*name: \\{\\{ \\.Values\\.`),
      );
    }
    expect(values.redis.passwordSecret).toHaveProperty('name');
    expect(values.redis.sentinel.passwordSecret).toHaveProperty('name');
  });

  test('the ConfigMap is the env map, and both Deployments read it', () => {
    expect(template('configmap.yaml')).toMatch(/\{\{-?\s*range \$\w+, \$\w+ := \.Values\.env\s*\}\}/);
    for (const mode of ['api', 'worker']) expect(template(`${mode}-deployment.yaml`), mode).toMatch(/configMapRef:/);
  });

  test('api: MODE=api, container port 8080 = PORT, the Service targets it', () => {
    const api = template('api-deployment.yaml');
    expect(literalEnv(api, 'MODE')).toBe('api');
    const port = loadConfig(helmEnv('api')).PORT;
    const named = api.match(/- name: (\S+)\s*\n\s*containerPort: (\d+)/);
    expect(Number(named?.[2])).toBe(port);
    expect(port).toBe(8080);
    expect(template('service.yaml')).toMatch(new RegExp(`targetPort: ${named?.[1]}\\s*$`, 'm'));
    expect(template('service.yaml')).toMatch(/app\.kubernetes\.io\/component: api/);
  });

  test('api: liveness on /health and readiness on /health/ready, both routes the app serves', async () => {
    const api = template('api-deployment.yaml');
    const probePath = (probe: string) =>
      api.match(new RegExp(`${probe}:\\s*\\n\\s*httpGet:\\s*\\n\\s*path: (\\S+)`))?.[1];
    expect(probePath('livenessProbe')).toBe('/health');
    expect(probePath('readinessProbe')).toBe('/health/ready');
    const paths = [...allTemplates.matchAll(/^\s*path: (\/\S*)/gm)].map((m) => m[1] ?? '');
    expect(paths.length).toBeGreaterThanOrEqual(2);
    for (const p of paths) expect(await served(p), p).toBe(200);
  });

  test('worker: MODE=worker, terminationGracePeriodSeconds exceeds SHUTDOWN_GRACE_SEC', () => {
    const worker = template('worker-deployment.yaml');
    expect(literalEnv(worker, 'MODE')).toBe('worker');
    expect(worker).toMatch(
      /^\s*terminationGracePeriodSeconds: \{\{ \.Values\.worker\.terminationGracePeriodSeconds \}\}/m,
    );
    const grace = loadConfig(helmEnv('worker')).SHUTDOWN_GRACE_SEC;
    expect(Number(values.worker.terminationGracePeriodSeconds)).toBeGreaterThan(grace);
  });
});
