/**
 * Runs the real Terraform engine on the whole synthesized stack, offline: the providers are the
 * stand-ins of __tests__/engine/standin, started once and kept resident, with schemas rebuilt from
 * the installed @cdktf/provider-* packages and data sources answered from a fixture file per lane.
 * Terraform attaches to them through TF_REATTACH_PROVIDERS, so no command starts a provider.
 */
import { ChildProcess, spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { Root } from 'protobufjs';
import { providerSchema } from '../engine/standin/schema';
import { writeAtomically } from './files';
import type { TerraformJson } from './synth';

export const TERRAFORM = process.env.TERRAFORM_BIN ?? 'terraform';
const ROOT = path.resolve(__dirname, '..', '..');
const STANDIN_DIR = path.join(ROOT, '__tests__', 'engine', 'standin');
const PROTO_FILES = ['tfplugin5.8.proto', 'grpc_controller.proto', 'grpc_stdio.proto', 'grpc_broker.proto', 'health.proto'];
/** Shared by every test and worker: the bundled stand-in, the parsed schemas. */
export const ENGINE_CACHE = path.join(ROOT, 'node_modules', '.cache', 'trainium-spot-engine');
/** Where a real AWS provider may be installed on this machine (never required). */
export const REAL_PLUGIN_DIR = '/opt/tf-plugins';
export const REAL_AWS_VERSION = '5.100.0';

/** Why terraform cannot run here, or undefined when it can. */
export function terraformMissingReason(): string | undefined {
  const probe = spawnSync(TERRAFORM, ['version'], { encoding: 'utf8', env: { ...process.env, TF_CLI_CONFIG_FILE: '/dev/null' } });
  return probe.status === 0 ? undefined : `terraform not found on PATH (${probe.error?.message ?? probe.stderr.trim()})`;
}

/** The installed cdktf provider package of each provider the stack uses. */
const PACKAGES: Readonly<Record<string, string>> = {
  aws: path.join(ROOT, 'node_modules', '@cdktf', 'provider-aws'),
  tls: path.join(ROOT, 'node_modules', '@cdktf', 'provider-tls'),
};

/**
 * The stand-in as one bundled file with its protocol definitions as a JSON descriptor (it starts in
 * about half the time). Kept under a digest of its sources, so a change rebuilds it and parallel
 * workers never overwrite each other.
 */
function bundleStandin(): string {
  // Every .cjs beside it is bundled in (provider.cjs requires force-new.cjs), so every one is in the digest.
  const modules = fs.readdirSync(STANDIN_DIR).filter((f) => f.endsWith('.cjs')).sort();
  const sources = [...modules, ...PROTO_FILES.map((f) => path.join('proto', f))];
  const digest = createHash('sha256');
  for (const file of sources) digest.update(fs.readFileSync(path.join(STANDIN_DIR, file)));
  digest.update(JSON.stringify(['@grpc/grpc-js', '@grpc/proto-loader', '@msgpack/msgpack'].map((name) =>
    JSON.parse(fs.readFileSync(path.join(ROOT, 'node_modules', name, 'package.json'), 'utf8')).version)));
  const dir = path.join(ENGINE_CACHE, 'standin', digest.digest('hex').slice(0, 16));
  const bundle = path.join(dir, 'provider.cjs');
  if (fs.existsSync(bundle)) return bundle;

  const root = new Root();
  root.loadSync(PROTO_FILES.map((f) => path.join(STANDIN_DIR, 'proto', f)), { keepCase: true });
  writeAtomically(path.join(dir, 'proto-descriptor.json'), JSON.stringify(root.toJSON()));
  const built = buildSync({
    entryPoints: [path.join(STANDIN_DIR, 'provider.cjs')], bundle: true, platform: 'node', target: 'node20',
    format: 'cjs', write: false, logLevel: 'error',
  });
  writeAtomically(bundle, built.outputFiles[0].text, 0o755);
  return bundle;
}

/** The provider names the stacks require, e.g. `aws`, `tls`. */
function providerNames(stacks: readonly TerraformJson[]): string[] {
  return [...new Set(stacks.flatMap((json) => Object.keys(json.terraform.required_providers)))].sort();
}

/** The resource and data source types of one provider that any of the stacks uses. */
function typesOf(stacks: readonly TerraformJson[], provider: string) {
  const ofProvider = (blocks: (object | undefined)[]) =>
    [...new Set(blocks.flatMap((types) => Object.keys(types ?? {})).filter((t) => t.startsWith(`${provider}_`)))].sort();
  return { resources: ofProvider(stacks.map((json) => json.resource)), dataSources: ofProvider(stacks.map((json) => json.data)) };
}

/** What the data sources answer: quotas by code, the AMI, SSM parameters by name, subnets by id. */
export interface Fixture {
  readonly region?: string;
  readonly availabilityZone?: string;
  readonly quotas: Record<string, number>;
  readonly ssmParameters: Record<string, string>;
  /** The images EC2 knows, by id: `aws_ami` finds one by its `image-id` filter or its `name` pattern. */
  readonly amis: Record<string, {
    readonly name: string;
    readonly architecture: string;
    readonly root_device_name: string;
    readonly block_device_mappings: { device_name: string; ebs: Record<string, string>; no_device: string; virtual_name: string }[];
  }>;
  readonly subnets?: Record<string, { availability_zone: string; availability_zone_id: string; vpc_id: string }>;
}

/** go-plugin's reattach configs by provider address, the value of TF_REATTACH_PROVIDERS. */
export type Reattach = Record<string, unknown>;

/**
 * Resolves with the first group of `pattern` once a process's stdout matches it; rejects with what the
 * process wrote (its stderr where piped, else its stdout) if it exits first.
 */
function awaitOutput(child: ChildProcess, what: string, pattern: RegExp): Promise<string> {
  return new Promise((resolve, reject) => {
    let stdout = '';
    let stderr = '';
    const exited = (code: number | null) =>
      reject(new Error(`${what} exited (${code}) before it was ready: ${(child.stderr ? stderr : stdout).trim()}`));
    child.stderr?.on('data', (d) => { stderr += d; });
    child.stdout!.on('data', (d) => {
      stdout += d;
      const found = pattern.exec(stdout);
      if (!found) return;
      child.off('exit', exited);
      resolve(found[1]);
    });
    child.once('exit', exited);
  });
}

/** User and system CPU seconds a running process has used so far (Linux /proc; undefined elsewhere). */
function cpuSeconds(pid: number | undefined): number | undefined {
  try {
    const fields = fs.readFileSync(`/proc/${pid}/stat`, 'utf8').replace(/^.*\) /, '').split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ 100)
  } catch {
    return undefined;
  }
}

/**
 * Ends a process this harness started and waits until it is gone (reaped, so its CPU time counts in
 * the parent's). Resolves with the CPU seconds it used, where known.
 */
function stopProcess(child: ChildProcess): Promise<number | undefined> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(undefined);
  const used = cpuSeconds(child.pid);
  return new Promise((resolve) => {
    child.once('exit', () => resolve(used));
    child.kill('SIGTERM');
  });
}

/**
 * One lane of the stand-ins: its own ports and its own fixture file. A lane runs one job (one or
 * more terraform commands on one directory) at a time, so the fixture a command reads is the one its
 * job wrote.
 */
export class Lane {
  constructor(readonly reattach: Reattach, readonly fixtureFile: string) {}

  setFixture(fixture: Fixture): void {
    fs.writeFileSync(this.fixtureFile, JSON.stringify(fixture));
  }
}

/**
 * The stand-in providers, started once for the whole suite in one process: every lane serves the
 * union of the types the given stacks use (a type outside it fails loudly in the stand-in).
 */
export class StandinProviders {
  private readonly free: Lane[];
  private readonly waiting: ((lane: Lane) => void)[] = [];

  /** The address of the stand-in's state store for Terraform's http backend; see `writeModules`. */
  readonly stateAddress: string;

  private constructor(private readonly child: ChildProcess, private readonly dir: string, readonly lanes: readonly Lane[], stateAddress: string) {
    this.stateAddress = stateAddress;
    this.free = [...lanes];
  }

  static async start(stacks: readonly TerraformJson[], laneCount: number): Promise<StandinProviders> {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-standin-'));
    const schemaDir = path.join(dir, 'schema');
    fs.mkdirSync(schemaDir);
    for (const name of providerNames(stacks)) {
      if (!PACKAGES[name]) throw new Error(`no stand-in for provider ${name}: add its @cdktf package to PACKAGES`);
      const schema = providerSchema({ provider: name, packageDir: PACKAGES[name], ...typesOf(stacks, name) }, path.join(ENGINE_CACHE, 'schema'));
      fs.writeFileSync(path.join(schemaDir, `${name}.json`), JSON.stringify(schema));
    }
    const fixtureFiles = Array.from({ length: laneCount }, (_, i) => path.join(dir, `fixture-${i}.json`));
    for (const file of fixtureFiles) fs.writeFileSync(file, '{}');
    const child = spawn(process.execPath, [bundleStandin(), schemaDir, ...fixtureFiles], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      const ready: { lanes: string[]; state: string } = JSON.parse(await awaitOutput(child, 'the stand-in providers', /^(.*)\n/));
      return new StandinProviders(child, dir, ready.lanes.map((r, i) => new Lane(JSON.parse(r), fixtureFiles[i])), ready.state);
    } catch (err) {
      await stopProcess(child);
      fs.rmSync(dir, { recursive: true, force: true });
      throw err;
    }
  }

  /** Runs `work` on the next free lane, holding it until `work` settles. */
  async withLane<T>(work: (lane: Lane) => Promise<T>): Promise<T> {
    const lane = this.free.shift() ?? await new Promise<Lane>((resolve) => this.waiting.push(resolve));
    try {
      return await work(lane);
    } finally {
      const next = this.waiting.shift();
      if (next) next(lane);
      else this.free.push(lane);
    }
  }

  /** Stops the process; resolves with the CPU seconds it used, where known. */
  async stop(): Promise<number | undefined> {
    const used = await stopProcess(this.child);
    fs.rmSync(this.dir, { recursive: true, force: true });
    return used;
  }
}

export interface TerraformResult {
  readonly code: number;
  readonly stdout: string;
  readonly stderr: string;
  readonly seconds: number;
}

export interface Diagnostic {
  readonly severity: string;
  readonly summary: string;
  readonly detail: string;
  /** The object it is about, e.g. `module.spot.aws_instance.box[0]`, where Terraform names one. */
  readonly address?: string;
  /** Where in the configuration, e.g. `spot/cdk.tf.json` for a child module's file. */
  readonly range?: { readonly filename: string };
}

/** A planned change: the resource's address, its module's address (root: none) and the action. */
export interface PlannedChange {
  readonly address: string;
  readonly module?: string;
  readonly action: string;
}

/** Terraform's count of what a plan adds, changes and removes. */
export interface ChangeSummary {
  readonly add: number;
  readonly change: number;
  readonly remove: number;
}

export interface PlanOutcome {
  readonly ok: boolean;
  /** Every diagnostic of the run, warnings too: plan validates the configuration first, so these include validate's. */
  readonly diagnostics: Diagnostic[];
  readonly errors: Diagnostic[];
  readonly changes: PlannedChange[];
  readonly summary?: ChangeSummary;
  readonly raw: TerraformResult;
}

export interface SavedPlan {
  readonly resource_changes: { address: string; module_address?: string; type: string; change: { actions: string[]; after: any } }[];
}

/** One working directory with a root module, on a lane of the stand-ins. */
export class EngineDir {
  readonly dir: string;
  readonly stackDir: string;
  /** Seconds per terraform command, by command name, for the figures in the README. */
  readonly timings: { command: string; seconds: number }[] = [];
  private readonly env: NodeJS.ProcessEnv;

  /** `reattach` replaces the lane's provider of the same address (the real AWS provider). */
  constructor(readonly lane: Lane, options: { reattach?: Reattach } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-engine-'));
    // The local backend keeps state three levels up, beside cdktf.json: keep that shape.
    this.stackDir = path.join(this.dir, 'cdktf.out', 'stacks', 'trainium-spot');
    fs.mkdirSync(this.stackDir, { recursive: true });
    // Every provider is reattached, so nothing is installed: an empty CLI config, never ~/.terraformrc.
    const cliConfig = path.join(this.dir, 'terraformrc');
    fs.writeFileSync(cliConfig, '');
    this.env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: cliConfig,
      TF_REATTACH_PROVIDERS: JSON.stringify({ ...lane.reattach, ...options.reattach }),
      TF_PLUGIN_CACHE_DIR: '',
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
      TF_LOG: '',
      // Terraform allocates about 150 MB of short-lived objects per stack per plan; with Go's default GOGC=100
      // a quarter of its CPU went to collecting them. 400 collects a quarter as often for about 300 MB of heap
      // per command (a 14-stack plan: 7.5 -> 5.7 CPU-s on the development machine).
      GOGC: process.env.TF_GOGC ?? '400',
    };
  }

  /** The stack as the root module, `cdk.tf.json` as cdktf writes it. */
  writeStack(json: TerraformJson): void {
    this.writeFile('cdk.tf.json', JSON.stringify(json, null, 2));
  }

  /** A Terraform file beside the stack (e.g. an override), or in a child module's directory (`name/file`). */
  writeFile(name: string, content: string): void {
    fs.mkdirSync(path.dirname(path.join(this.stackDir, name)), { recursive: true });
    fs.writeFileSync(path.join(this.stackDir, name), content);
  }

  setFixture(fixture: Fixture): void {
    this.lane.setFixture(fixture);
  }

  /** Runs terraform in the stack directory. */
  terraform(args: string[]): Promise<TerraformResult> {
    const started = process.hrtime.bigint();
    return new Promise((resolve, reject) => {
      const child = spawn(TERRAFORM, args, { cwd: this.stackDir, env: this.env });
      let stdout = '';
      let stderr = '';
      child.stdout.on('data', (d) => { stdout += d; });
      child.stderr.on('data', (d) => { stderr += d; });
      child.on('error', reject);
      child.on('close', (code) => {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        this.timings.push({ command: args[0], seconds });
        resolve({ code: code ?? -1, stdout, stderr, seconds });
      });
    });
  }

  /** terraform init; `-backend=false` where the backend needs credentials (s3, cloud). */
  async init(options: { backend?: boolean } = {}): Promise<TerraformResult> {
    return this.terraform(['init', '-input=false', '-no-color', ...(options.backend === false ? ['-backend=false'] : [])]);
  }

  async validate(): Promise<{ ok: boolean; diagnostics: Diagnostic[]; raw: TerraformResult }> {
    const raw = await this.terraform(['validate', '-json', '-no-color']);
    const parsed = JSON.parse(raw.stdout || '{}');
    return { ok: raw.code === 0 && parsed.valid === true, diagnostics: parsed.diagnostics ?? [], raw };
  }

  /**
   * terraform plan -json: its diagnostics and planned changes, read from the stream (a `show` of the
   * saved plan is another command). `out` saves the plan for `show` and `apply`; `targets` (e.g.
   * `module.spot`) plan those objects only.
   */
  async plan(options: { out?: string; targets?: readonly string[] } = {}): Promise<PlanOutcome> {
    const raw = await this.terraform(['plan', '-input=false', '-json', '-lock=false',
      ...(options.out ? [`-out=${options.out}`] : []), ...(options.targets ?? []).map((t) => `-target=${t}`)]);
    const messages = raw.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    const diagnostics: Diagnostic[] = messages.filter((m) => m.type === 'diagnostic').map((m) => m.diagnostic);
    const changes: PlannedChange[] = messages.filter((m) => m.type === 'planned_change').map((m) => ({
      address: m.change.resource.addr as string,
      ...(m.change.resource.module ? { module: m.change.resource.module as string } : {}),
      action: m.change.action as string,
    }));
    const summary = messages.find((m) => m.type === 'change_summary')?.changes;
    return { ok: raw.code === 0, diagnostics, errors: diagnostics.filter((d) => d.severity === 'error'), changes, summary, raw };
  }

  /** A saved plan, as `terraform show -json` gives it. */
  async show(saved: string): Promise<SavedPlan> {
    const shown = await this.terraform(['show', '-json', saved]);
    if (shown.code !== 0) throw new Error(`terraform show failed: ${shown.stderr}`);
    return JSON.parse(shown.stdout);
  }

  /** terraform apply: of a saved plan (`terraform plan -out`, then apply that file), or planning afresh. */
  async apply(saved?: string): Promise<TerraformResult> {
    return this.terraform(['apply', '-input=false', '-auto-approve', '-lock=false', '-no-color', ...(saved ? [saved] : [])]);
  }

  /** Outputs of the applied state. */
  async outputs(): Promise<Record<string, unknown>> {
    const raw = await this.terraform(['output', '-json']);
    return Object.fromEntries(Object.entries<{ value: unknown }>(JSON.parse(raw.stdout)).map(([k, v]) => [k, v.value]));
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

// ------------------------------------------------------------------ many stacks in one root module

/**
 * A root module calling each stack as a child module of its own name, so one terraform command
 * checks them all. A stack keeps its provider blocks (a child module may configure its own
 * providers when it is called without count or for_each), except empty ones: in a child module an
 * empty block is a deprecated proxy (Terraform warns), in a root module it means the default
 * configuration, which the root module's implicit provider is. Only a root module has a backend:
 * the stacks' backends go, and the root keeps its state in the stand-in's http state store.
 * `outputs` are re-exported as `<module>__<output>`.
 */
export function writeModules(dir: EngineDir, stateAddress: string, stacks: Readonly<Record<string, TerraformJson>>, outputs: readonly string[]): void {
  for (const [name, json] of Object.entries(stacks)) {
    const { backend: _backend, cloud: _cloud, ...terraform } = json.terraform;
    const provider = Object.fromEntries(Object.entries(json.provider ?? {})
      .filter(([, configs]) => !configs.every((config) => Object.keys(config).length === 0)));
    dir.writeFile(`${name}/cdk.tf.json`, JSON.stringify({ ...json, provider, terraform }, null, 2));
  }
  dir.writeStack({
    terraform: { backend: { http: { address: `${stateAddress}/${path.basename(dir.dir)}` } } },
    module: Object.fromEntries(Object.keys(stacks).map((name) => [name, { source: `./${name}` }])),
    ...(outputs.length === 0 ? {} : {
      output: Object.fromEntries(Object.keys(stacks).flatMap((name) => outputs.map((output) =>
        [`${name}__${output}`, { value: `\${module.${name}.${output}}` }]))),
    }),
  } as unknown as TerraformJson);
}

/** Whether a diagnostic is about child module `name`; one that names no object and no file is about every module. */
export function concernsModule(diagnostic: Diagnostic, name: string): boolean {
  if (diagnostic.address) return diagnostic.address.startsWith(`module.${name}.`);
  if (diagnostic.range?.filename) return diagnostic.range.filename.startsWith(`${name}/`);
  return true;
}

/** The part of a plan that is child module `name`'s, with addresses relative to the module. */
export function moduleSlice(plan: PlanOutcome, name: string): { errors: Diagnostic[]; changes: PlannedChange[]; summary: ChangeSummary } {
  const prefix = `module.${name}.`;
  const changes = plan.changes.filter((c) => c.module === `module.${name}`).map((c) => ({ address: c.address.slice(prefix.length), action: c.action }));
  const count = (...actions: string[]) => changes.filter((c) => actions.includes(c.action)).length;
  return {
    errors: plan.errors.filter((d) => concernsModule(d, name)),
    changes,
    // As Terraform's change_summary counts: a replacement adds one and removes one.
    summary: { add: count('create', 'replace'), change: count('update'), remove: count('delete', 'replace') },
  };
}

/** The outputs `writeModules` re-exported for child module `name`, by their own names. */
export function moduleOutputs(outputs: Record<string, unknown>, name: string): Record<string, unknown> {
  const prefix = `${name}__`;
  return Object.fromEntries(Object.entries(outputs).filter(([k]) => k.startsWith(prefix)).map(([k, v]) => [k.slice(prefix.length), v]));
}

// ------------------------------------------------------------------ the real AWS provider

function realAwsBinary(): string {
  return path.join(REAL_PLUGIN_DIR, 'registry.terraform.io', 'hashicorp', 'aws', REAL_AWS_VERSION, 'linux_amd64', `terraform-provider-aws_v${REAL_AWS_VERSION}_x5`);
}

/** Why the real AWS provider cannot be used here, or undefined when it can. */
export function realAwsMissingReason(): string | undefined {
  return fs.existsSync(realAwsBinary()) ? undefined : `no AWS provider ${REAL_AWS_VERSION} under ${REAL_PLUGIN_DIR}`;
}

/**
 * The real AWS provider started once in its debug mode (`-debug`, terraform-plugin-go's managed
 * debug server), which prints the TF_REATTACH_PROVIDERS value to attach to it: one process of this
 * large binary serves every provider configuration of every command.
 */
export class RealAwsProvider {
  private constructor(private readonly child: ChildProcess, readonly reattach: Reattach) {}

  static async start(): Promise<RealAwsProvider> {
    // Its log goes nowhere: an unread pipe would fill and stop the provider mid-command.
    const child = spawn(realAwsBinary(), ['-debug'], { stdio: ['ignore', 'pipe', 'ignore'], env: { ...process.env, TF_LOG: '' } });
    try {
      const reattach = await awaitOutput(child, `the AWS provider ${REAL_AWS_VERSION}`, /TF_REATTACH_PROVIDERS='(\{.*\})'/);
      return new RealAwsProvider(child, JSON.parse(reattach));
    } catch (err) {
      await stopProcess(child);
      throw err;
    }
  }

  /** Stops the process; resolves with the CPU seconds it used, where known. */
  stop(): Promise<number | undefined> {
    return stopProcess(this.child);
  }
}
