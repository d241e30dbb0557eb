/**
 * Runs the real Terraform engine on the whole synthesized stack, offline: the providers are the
 * stand-ins of __tests__/engine/standin, installed from a filesystem mirror, with schemas rebuilt
 * from the installed @cdktf/provider-* packages and data sources answered from a fixture file.
 */
import { spawn, spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { buildSync } from 'esbuild';
import { Root } from 'protobufjs';
import { providerSchema } from '../engine/standin/schema';
import type { TerraformJson } from './synth';

export const TERRAFORM = process.env.TERRAFORM_BIN ?? 'terraform';
const ROOT = path.resolve(__dirname, '..', '..');
const STANDIN_DIR = path.join(ROOT, '__tests__', 'engine', 'standin');
const PROTO_FILES = ['tfplugin5.8.proto', 'grpc_controller.proto', 'grpc_stdio.proto', 'grpc_broker.proto', 'health.proto'];
/** Shared by every test and worker: the bundled stand-in, the mirror, the parsed schemas. */
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

/** `aws` → `registry.terraform.io/hashicorp/aws`; the stack pins exact versions. */
function requiredProviders(json: TerraformJson): { name: string; namespace: string; version: string }[] {
  return Object.entries<{ source: string; version: string }>(json.terraform.required_providers).map(([name, p]) => {
    const parts = p.source.split('/');
    if (!/^\d+\.\d+\.\d+$/.test(p.version)) throw new Error(`provider ${name}: version ${p.version} is not an exact pin`);
    return { name, namespace: parts.length > 1 ? parts[parts.length - 2] : 'hashicorp', version: p.version };
  });
}

/** Writes a file through a temporary name, so a parallel reader sees all of it or none. */
function writeAtomically(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode });
  fs.renameSync(temp, file);
}

/**
 * The stand-in as one bundled file with its protocol definitions as a JSON descriptor: Terraform
 * starts each provider twice per command, and a bundle starts in about half the time. Kept under a
 * digest of its sources, so a change rebuilds it and parallel workers never overwrite each other.
 */
function bundleStandin(): string {
  const sources = ['provider.cjs', ...PROTO_FILES.map((f) => path.join('proto', f))];
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

/**
 * Installs the stand-in of each provider into a mirror of that bundle (idempotent, atomic): a changed
 * stand-in gets a new mirror, so directories initialised from the old one keep matching their lock file.
 */
function installStandins(json: TerraformJson): string {
  const standin = bundleStandin();
  const mirror = path.join(path.dirname(standin), 'mirror');
  for (const p of requiredProviders(json)) {
    const dir = path.join(mirror, 'registry.terraform.io', p.namespace, p.name, p.version, 'linux_amd64');
    const file = path.join(dir, `terraform-provider-${p.name}_v${p.version}`);
    const script = `#!/bin/sh\nexec "${process.execPath}" "${standin}" ${p.name} "$@"\n`;
    if (fs.existsSync(file) && fs.readFileSync(file, 'utf8') === script) continue;
    writeAtomically(file, script, 0o755);
  }
  return mirror;
}

function typesOf(json: TerraformJson, provider: string) {
  const ofProvider = (types: object | undefined) => Object.keys(types ?? {}).filter((t) => t.startsWith(`${provider}_`)).sort();
  return { resources: ofProvider(json.resource), dataSources: ofProvider(json.data) };
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
}

/** One working directory with a synthesized stack, initialised against the stand-ins. */
export class EngineDir {
  readonly dir: string;
  readonly stackDir: string;
  /** Seconds per terraform command, by command name, for the figures in the README. */
  readonly timings: { command: string; seconds: number }[] = [];
  private readonly env: NodeJS.ProcessEnv;

  constructor(readonly json: TerraformJson, fixture: Fixture, options: { cliConfig?: string } = {}) {
    this.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-engine-'));
    // The local backend keeps state three levels up, beside cdktf.json: keep that shape.
    this.stackDir = path.join(this.dir, 'cdktf.out', 'stacks', 'trainium-spot');
    fs.mkdirSync(this.stackDir, { recursive: true });
    this.writeStack(json);
    this.setFixture(fixture);

    const mirror = installStandins(json);
    const schemaDir = path.join(this.dir, 'schema');
    fs.mkdirSync(schemaDir);
    for (const { name } of requiredProviders(json)) {
      const schema = providerSchema({ provider: name, packageDir: PACKAGES[name], ...typesOf(json, name) }, path.join(ENGINE_CACHE, 'schema'));
      fs.writeFileSync(path.join(schemaDir, `${name}.json`), JSON.stringify(schema));
    }
    const cliConfig = options.cliConfig ?? path.join(this.dir, 'terraformrc');
    if (!options.cliConfig) {
      fs.writeFileSync(cliConfig, `provider_installation {\n  filesystem_mirror {\n    path = ${JSON.stringify(mirror)}\n  }\n}\n`);
    }
    this.env = {
      ...process.env,
      TF_CLI_CONFIG_FILE: cliConfig,
      // No TF_PLUGIN_CACHE_DIR: the mirror's packages are two-line scripts (init copies them in well
      // under a second), and a cache keyed by version would keep serving a stand-in after it changed.
      TF_PLUGIN_CACHE_DIR: '',
      // The stand-ins speak plaintext gRPC; Terraform's AutoMTLS would need a certificate per start.
      TF_DISABLE_PLUGIN_TLS: '1',
      TF_IN_AUTOMATION: '1',
      CHECKPOINT_DISABLE: '1',
      TF_LOG: '',
      TRAINIUM_STANDIN_SCHEMA_DIR: schemaDir,
      TRAINIUM_STANDIN_FIXTURE: path.join(this.dir, 'fixture.json'),
    };
  }

  writeStack(json: TerraformJson): void {
    fs.writeFileSync(path.join(this.stackDir, 'cdk.tf.json'), JSON.stringify(json, null, 2));
  }

  /** A Terraform file beside the stack, e.g. an override. */
  writeFile(name: string, content: string): void {
    fs.writeFileSync(path.join(this.stackDir, name), content);
  }

  setFixture(fixture: Fixture): void {
    fs.writeFileSync(path.join(this.dir, 'fixture.json'), JSON.stringify(fixture));
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
   * saved plan would start every provider twice more). `plan.bin` is kept for `show`.
   */
  async plan(): Promise<PlanOutcome> {
    const raw = await this.terraform(['plan', '-input=false', '-json', '-lock=false', '-out=plan.bin']);
    const messages = raw.stdout.split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line));
    const diagnostics: Diagnostic[] = messages.filter((m) => m.type === 'diagnostic').map((m) => m.diagnostic);
    const changes = messages.filter((m) => m.type === 'planned_change')
      .map((m) => ({ address: m.change.resource.addr as string, action: m.change.action as string }));
    const summary = messages.find((m) => m.type === 'change_summary')?.changes;
    return { ok: raw.code === 0, errors: diagnostics.filter((d) => d.severity === 'error'), changes, summary, raw };
  }

  /** The saved plan of the last `plan`, as `terraform show -json` gives it. */
  async show(): Promise<{ resource_changes: { address: string; type: string; change: { actions: string[]; after: any } }[] }> {
    const shown = await this.terraform(['show', '-json', 'plan.bin']);
    if (shown.code !== 0) throw new Error(`terraform show failed: ${shown.stderr}`);
    return JSON.parse(shown.stdout);
  }

  async apply(): Promise<TerraformResult> {
    return this.terraform(['apply', '-input=false', '-auto-approve', '-lock=false', '-no-color']);
  }

  /** Outputs of the applied state. */
  async outputs(): Promise<Record<string, unknown>> {
    const raw = await this.terraform(['output', '-json']);
    return Object.fromEntries(Object.entries<{ value: unknown }>(JSON.parse(raw.stdout)).map(([k, v]) => [k, v.value]));
  }

  /** The local state file (the backend writes it three levels above the stack). */
  statePath(): string {
    return path.join(this.dir, 'terraform.trainium-spot.tfstate');
  }

  remove(): void {
    fs.rmSync(this.dir, { recursive: true, force: true });
  }
}

export interface PlanOutcome {
  readonly ok: boolean;
  readonly errors: Diagnostic[];
  /** Planned changes: resource address and action (create, update, replace, delete). */
  readonly changes: { address: string; action: string }[];
  /** Terraform's count of what the plan adds, changes and removes. */
  readonly summary?: { add: number; change: number; remove: number };
  readonly raw: TerraformResult;
}

function realAwsDir(): string {
  return path.join(REAL_PLUGIN_DIR, 'registry.terraform.io', 'hashicorp', 'aws', REAL_AWS_VERSION, 'linux_amd64');
}

/** Why the real AWS provider cannot be used here, or undefined when it can. */
export function realAwsMissingReason(): string | undefined {
  return fs.existsSync(realAwsDir()) ? undefined : `no AWS provider ${REAL_AWS_VERSION} under ${REAL_PLUGIN_DIR}`;
}

/** A CLI config that installs the real AWS provider from REAL_PLUGIN_DIR and the rest from the stand-in mirror. */
export function realAwsCliConfig(dir: string, json: TerraformJson): string {
  const standinMirror = installStandins(json);
  const file = path.join(dir, 'terraformrc-real-aws');
  fs.writeFileSync(file, [
    'provider_installation {',
    `  filesystem_mirror {\n    path = ${JSON.stringify(REAL_PLUGIN_DIR)}\n    include = ["registry.terraform.io/hashicorp/aws"]\n  }`,
    `  filesystem_mirror {\n    path = ${JSON.stringify(standinMirror)}\n    exclude = ["registry.terraform.io/hashicorp/aws"]\n  }`,
    '}',
    '',
  ].join('\n'));
  return file;
}
