/**
 * The one configuration of trainium-spot: a zod schema, its defaults, and the loader that merges
 * built-in defaults < cdktf.json context < $TRAINIUM_SPOT_CONFIG file < documented env vars,
 * validates once and returns a frozen, typed object. Nothing else reads the environment.
 */
import * as fs from 'node:fs';
import * as ipaddr from 'ipaddr.js';
import { z } from 'zod';
import {
  AZ_ID_PATTERN,
  GP3,
  INSTANCE_TYPE_NAMES,
  REGION_PATTERN,
  instanceFacts,
  regionsOffering,
} from './catalog';

// ---------------------------------------------------------------------------------------------
// Errors
// ---------------------------------------------------------------------------------------------

/** A configuration problem, phrased for people: one line, the field, the value, what is allowed. */
export class ConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'ConfigError';
  }
}

// ---------------------------------------------------------------------------------------------
// Defaults
// ---------------------------------------------------------------------------------------------

/** The smallest root volume the stack launches with; it grows to the AMI's snapshot size when that is larger. */
export const DEFAULT_ROOT_VOLUME_SIZE_GIB = 50;

export const NEURON_DLAMI_UBUNTU_2404_PARAMETER =
  '/aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id';

export const MARKETS = ['spot', 'on-demand', 'capacity-block', 'capacity-reservation', 'auto'] as const;

// ---------------------------------------------------------------------------------------------
// Schema
// ---------------------------------------------------------------------------------------------

const between = (min: number, max: number, unit = '') =>
  z.number().int().min(min, { error: `must be a whole number from ${min} to ${max}${unit}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}${unit}` });

// The idle check compares in thousandths, so 0.001 is the smallest threshold it can tell from 0.
const percent = z.number().min(0.001, { error: 'must be a percentage from 0.001 to 100' })
  .max(100, { error: 'must be a percentage from 0.001 to 100' });

const detector = (what: string) => z.boolean().default(true).describe(`Count ${what} as activity.`);

/** Signals that only show that something is there, not that it works: bounded by idle.maxIdleSessionHours. */
const idleDetectorsSchema = z.strictObject({
  ssh: detector('SSH, mosh and VS Code sessions: `sshd: user@` session processes, `mosh-server`, the VS Code ' +
    'server and `code tunnel` (bounded by `idle.maxIdleSessionHours`)'),
  ssm: detector('Session Manager sessions (`ssm-session-worker`) and Run Command jobs (`ssm-document-worker`) ' +
    '(bounded by `idle.maxIdleSessionHours`)'),
  multiplexers: detector('tmux, screen, zellij and dtach sessions, attached or detached (bounded by ' +
    '`idle.maxIdleSessionHours`)'),
  neuron: detector('the highest NeuronCore utilization since the previous check (`neuron-monitor`), Neuron ' +
    'compiles, and a Neuron runtime holding NeuronCores (the last bounded by `idle.maxIdleSessionHours`)'),
  gpu: detector('GPU utilization from `nvidia-smi`, where present'),
  processes: detector('processes whose program and script match `idle.processPatterns` and not ' +
    '`idle.ignorePatterns` (bounded by `idle.maxIdleSessionHours`)'),
  cpu: detector('CPU (iowait included) above `idle.cpuThresholdPercent` of all vCPUs, or 0.8 of one vCPU, ' +
    'since the previous check'),
  disk: detector('disk reads and writes above `idle.diskThresholdKBps` (`/proc/diskstats`)'),
  memory: detector('memory in use above `idle.memoryThresholdPercent` (bounded by `idle.maxIdleSessionHours`)'),
  network: detector('network traffic above `idle.networkThresholdKBps`'),
  keepalive: detector('a touch of the keep-alive file within `idle.keepaliveMinutes`'),
  terminal: detector('keyboard input on any terminal (`/dev/pts`) since the previous check'),
});

/** A list of POSIX extended regular expressions, each one line of printable text. */
const patternList = z.array(z.string().min(1, { error: 'must not be empty' })
  .max(200, { error: 'must be at most 200 characters' })
  // Each pattern becomes one line of idle.conf and of the cloud-config: no line breaks, no control
  // characters (tabs are fine).
  // eslint-disable-next-line no-control-regex
  .regex(/^[^\u0000-\u0008\u000a-\u001f\u007f-\u009f\u2028\u2029\ufeff\ufffe\uffff]*$/, {
    error: 'must be one line of printable characters',
  }));

/**
 * What a process is, as the idle check matches it: the program's name, then for an interpreter
 * (python, bash, node, ...) its script's name or `-m module`, else the program's first argument.
 * `/opt/venv/bin/python3 -u /home/me/finetuning.py --lr 3e-4` reads `python3 finetuning.py`.
 */
const DEFAULT_PROCESS_PATTERNS = [
  '^torchrun( |$)',
  '^python[0-9.]* -m torch\\.distributed\\.(run|launch)',
  '^deepspeed( |$)',
  '^accelerate launch',
  '(^| )neuron_parallel_compile',
  '^python[0-9.]* [^ ]*(train|fine[-_]?tun|infer|serve)',
  'jupyter[- ](lab|notebook|server|kernel)|ipykernel_launcher',
];

const DEFAULT_IGNORE_PATTERNS = ['tensorboard', 'mlflow (ui|server)'];

const idleSchema = z.strictObject({
  enabled: z.boolean().default(true).describe('Install the on-box idle auto-shutdown.'),
  dryRun: z.boolean().default(false).describe('Log every decision but never stop the box.'),
  checkIntervalSeconds: between(15, 3600, ' seconds').default(60).describe('Seconds between idle checks.'),
  idleMinutes: between(1, 1440, ' minutes').default(3)
    .describe('Minutes with no sign of work (on the boot clock) before the box stops itself.'),
  bootGraceMinutes: between(0, 120, ' minutes').default(5).describe('Minutes after boot during which the box never stops.'),
  maxIdleSessionHours: between(0, 168, ' hours (0: off)').default(3)
    .describe('Hours after the last sign of work or terminal input after which open sessions, kernels, ' +
      'multiplexers, matched processes and held memory stop counting; 0 counts them for ever.'),
  cpuThresholdPercent: percent.default(10).describe('CPU use above this (percent) is activity.'),
  diskThresholdKBps: z.number().min(0.001, { error: 'must be at least 0.001 KB/s' }).default(200)
    .describe('Disk reads + writes above this (KB/s, whole disks) are activity.'),
  memoryThresholdPercent: percent.default(80).describe('Memory use above this (percent) is activity.'),
  networkThresholdKBps: z.number().min(0.001, { error: 'must be at least 0.001 KB/s' }).default(20)
    .describe('Network traffic above this (KB/s, in + out, all interfaces but lo) is activity.'),
  neuronUtilizationThresholdPercent: percent.default(1).describe('NeuronCore utilization above this (percent) is activity.'),
  gpuUtilizationThresholdPercent: percent.default(5).describe('GPU utilization above this (percent) is activity.'),
  keepaliveMinutes: between(1, 1440, ' minutes').default(60)
    .describe('Minutes that a touch of the keep-alive file keeps the box up.'),
  processPatterns: patternList.default(DEFAULT_PROCESS_PATTERNS)
    .describe('POSIX extended regular expressions (grep -E) matched against what each process is: its program, ' +
      'then the script or `-m module` of an interpreter, else its first argument (e.g. `python3 finetuning.py`, ' +
      '`torchrun --nproc_per_node`). A pattern grep rejects keeps the box up (fail safe).'),
  ignorePatterns: patternList.default(DEFAULT_IGNORE_PATTERNS)
    .describe('Processes matching these (same form as `processPatterns`) never count, e.g. `tensorboard --logdir runs/train`.'),
  publishVerdict: z.boolean().default(true)
    .describe('Publish every decision to CloudWatch (`TrainiumSpot/Idle`), which the `idleAlarm` backstop reads.'),
  detectors: idleDetectorsSchema.prefault({}).describe('Switch single activity detectors on or off.'),
});

const idleAlarmSchema = z.strictObject({
  enabled: z.boolean().default(true)
    .describe('Create the CloudWatch backstop: it stops a box whose idle check said stop but did not, or went silent while its CPU stayed low.'),
  silentMinutes: between(5, 120, ' minutes').default(10)
    .describe('Minutes without a published verdict after which the box counts as silent.'),
  lowCpuMinutes: between(10, 1440, ' minutes').default(25)
    .describe('Minutes of low CPU that, with a silent box, stop it.'),
  lowCpuBusyVcpus: z.number().min(0.05, { error: 'must be from 0.05 to 4 vCPUs' }).max(4, { error: 'must be from 0.05 to 4 vCPUs' })
    .default(0.5).describe('CPU below this many busy vCPUs (scaled to the instance type) counts as low.'),
});

const backendSchema = z.discriminatedUnion('type', [
  z.strictObject({
    type: z.literal('local'),
    path: z.string().min(1).optional().describe('State file path (default terraform.<stack>.tfstate).'),
  }),
  z.strictObject({
    type: z.literal('s3'),
    bucket: z.string().regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, { error: 'must be an S3 bucket name' }),
    key: z.string().min(1).default('trainium-spot/terraform.tfstate'),
    region: z.string().optional(),
    useLockfile: z.boolean().default(true).describe('S3-native state locking (Terraform 1.10+).'),
  }),
  z.strictObject({
    type: z.literal('cloud'),
    organization: z.string().min(1),
    workspace: z.string().min(1),
    hostname: z.string().default('app.terraform.io'),
  }),
], { error: 'must have type "local", "s3" or "cloud"' });

export const configSchema = z.strictObject({
  // 30 at most: name prefixes such as "<name>-notice-" plus AWS's 26-character suffix must fit 64.
  name: z.string().regex(/^[a-z][a-z0-9-]{0,29}$/, {
    error: 'must be 1-30 lowercase letters, digits or dashes, starting with a letter',
  }).default('trainium-spot').describe('Prefix of resource names and the Name tag of the boxes.'),
  region: z.string().regex(REGION_PATTERN, { error: 'must be an AWS region code such as us-east-2' })
    .default('us-east-2').describe('AWS region.'),
  instanceType: z.string().default('trn1.2xlarge').describe(`Instance type, one of ${INSTANCE_TYPE_NAMES.join(', ')}.`),
  market: z.enum(MARKETS, { error: `must be one of ${MARKETS.join(', ')}` }).default('spot')
    .describe('Purchase market; `auto` picks spot or on-demand at plan time from the quotas.'),
  instanceCount: between(1, 64).default(1).describe('Number of identical boxes.'),
  availabilityZoneId: z.string().regex(AZ_ID_PATTERN, { error: 'must be an AZ ID such as use2-az3' }).optional()
    .describe('AZ ID (not name) of the box; default: the first AZ ID that offers the type in the region.'),
  subnetId: z.string().regex(/^subnet-[0-9a-f]{8,17}$/, { error: 'must look like subnet-0123456789abcdef0' }).optional()
    .describe('Launch into this existing subnet instead of creating a VPC.'),
  rootVolumeSizeGiB: between(GP3.minSizeGiB, GP3.maxSizeGiB, ' GiB').optional()
    .describe(`Root volume size; default: the larger of ${DEFAULT_ROOT_VOLUME_SIZE_GIB} GiB and the AMI's snapshot.`),
  rootVolumeIops: between(GP3.minIops, GP3.maxIops, ' IOPS').default(GP3.minIops).describe('gp3 IOPS of the root volume.'),
  rootVolumeThroughputMiBps: between(GP3.minThroughputMiBps, GP3.maxThroughputMiBps, ' MiB/s')
    .default(GP3.minThroughputMiBps).describe('gp3 throughput of the root volume in MiB/s.'),
  cpuCoreCount: z.number().int().positive().optional()
    .describe("CPU cores (not for market spot); default: the type's default. Fewer cores save neither money nor quota."),
  cpuThreadsPerCore: z.number().int().positive().optional()
    .describe("Threads per core, 1 turns off SMT (not for market spot); default: the type's default."),
  sshCidrs: z.array(z.string()).default([]).describe('Networks (IPv4 or IPv6 CIDR) that may reach SSH; default none.'),
  allowSshFromAnywhere: z.boolean().default(false).describe('The only way to put 0.0.0.0/0 or ::/0 in sshCidrs.'),
  sshPublicKey: z.string().regex(/^(ssh-ed25519|ssh-rsa|ecdsa-sha2-nistp(256|384|521)) [A-Za-z0-9+/=]+( .*)?$/, {
    error: 'must be an OpenSSH public key (ssh-ed25519, ssh-rsa or ecdsa-sha2-*)',
  }).optional().describe('Import this OpenSSH public key instead of generating a key pair.'),
  spotMaxPricePerHour: z.number().positive({ error: 'must be a price in USD per hour above 0' }).optional()
    .describe('Spot price cap in USD per hour; default: the on-demand price. A cap adds interruptions.'),
  spotRequestValidDays: between(1, 3650, ' days').default(365)
    .describe("Days the persistent spot request stays open (AWS's own default is 7)."),
  createSpotServiceLinkedRole: z.boolean().default(false)
    .describe('Create AWSServiceRoleForEC2Spot (fails where the account has it already).'),
  capacityReservationId: z.string().regex(/^cr-[0-9a-f]{8,17}$/, { error: 'must look like cr-0123456789abcdef0' })
    .optional().describe('Capacity Block (required for capacity-block) or reservation (capacity-reservation) to use.'),
  notifyEmail: z.email({ error: 'must be an e-mail address' }).optional()
    .describe('E-mail address subscribed to spot interruption and rebalance notices.'),
  amiSsmParameter: z.string().regex(/^\/[A-Za-z0-9_.\-/]+$/, { error: 'must be an SSM parameter path starting with /' })
    .default(NEURON_DLAMI_UBUNTU_2404_PARAMETER).describe('Public SSM parameter that names the AMI.'),
  idleAlarm: idleAlarmSchema.prefault({}).describe('CloudWatch backstop that stops a box whose idle check failed.'),
  idle: idleSchema.prefault({}).describe('On-box idle auto-shutdown.'),
  backend: backendSchema.prefault({ type: 'local' }).describe('Where Terraform keeps state: local, s3 or cloud.'),
  tags: z.record(z.string(), z.string()).default({}).describe('Tags for every resource and the boxes themselves.'),
}).superRefine(checkAgainstCatalog);

export type ConfigInput = z.input<typeof configSchema>;
type Parsed = z.output<typeof configSchema>;
export type IdleSettings = Parsed['idle'];
export type BackendSettings = Parsed['backend'];

/** The validated configuration, with every catalog-derived default filled in. */
export interface Config extends Readonly<Omit<Parsed, 'availabilityZoneId' | 'cpuCoreCount' | 'cpuThreadsPerCore'>> {
  readonly availabilityZoneId: string;
  readonly cpuCoreCount: number;
  readonly cpuThreadsPerCore: number;
  /** True when the user chose `rootVolumeSizeGiB`; the stack then never grows it. */
  readonly rootVolumeSizeExplicit: boolean;
}

// ---------------------------------------------------------------------------------------------
// Cross-field checks against the catalog
// ---------------------------------------------------------------------------------------------

const list = (values: readonly (string | number)[]) => values.join(', ');

function checkAgainstCatalog(c: Parsed, ctx: z.RefinementCtx): void {
  const fail = (path: string | (string | number)[], message: string) =>
    ctx.addIssue({ code: 'custom', path: typeof path === 'string' ? [path] : path, message });

  for (const [key, value] of Object.entries(c.tags)) {
    if (key.length < 1 || key.length > 128 || key.toLowerCase().startsWith('aws:')) {
      fail(['tags'], `has key "${key}"; tag keys are 1-128 characters and must not start with "aws:"`);
    } else if (value.length > 256) {
      fail(['tags', key], 'is longer than 256 characters, the limit for tag values');
    }
  }


  const facts = instanceFacts(c.instanceType);
  if (!facts) {
    fail('instanceType', `is not a supported instance type; supported: ${list(INSTANCE_TYPE_NAMES)}`);
    return;
  }
  const azIds = facts.offeredIn[c.region];
  if (!azIds) {
    fail('region', `does not offer ${c.instanceType}; regions that do: ${list(regionsOffering(c.instanceType))}`);
    return;
  }
  if (c.availabilityZoneId !== undefined && !azIds.includes(c.availabilityZoneId)) {
    fail('availabilityZoneId', `does not offer ${c.instanceType} in ${c.region}; AZ IDs that do: ${list(azIds)}`);
  }
  if (c.cpuCoreCount !== undefined && !facts.validCores.includes(c.cpuCoreCount)) {
    fail('cpuCoreCount', `is not valid for ${c.instanceType}; valid core counts: ${list(facts.validCores)}`);
  }
  if (c.cpuThreadsPerCore !== undefined && !facts.validThreadsPerCore.includes(c.cpuThreadsPerCore)) {
    fail('cpuThreadsPerCore', `is not valid for ${c.instanceType}; valid: ${list(facts.validThreadsPerCore)}`);
  }

  if (c.market === 'spot') {
    for (const key of ['cpuCoreCount', 'cpuThreadsPerCore'] as const) {
      if (c[key] !== undefined) {
        fail(key, 'cannot apply to market "spot": EC2 spot requests take no CPU options; use market ' +
          '"on-demand", "capacity-block" or "capacity-reservation", or leave it out');
      }
    }
  }

  const sizeGiB = c.rootVolumeSizeGiB ?? DEFAULT_ROOT_VOLUME_SIZE_GIB;
  if (c.rootVolumeIops > sizeGiB * GP3.maxIopsPerGiB) {
    fail('rootVolumeIops', `exceeds the gp3 limit of ${GP3.maxIopsPerGiB} IOPS per GiB ` +
      `(${sizeGiB * GP3.maxIopsPerGiB} for ${sizeGiB} GiB); raise rootVolumeSizeGiB or lower the IOPS`);
  }
  if (c.rootVolumeThroughputMiBps > c.rootVolumeIops * GP3.maxThroughputPerIops) {
    fail('rootVolumeThroughputMiBps', `exceeds the gp3 limit of 0.25 MiB/s per provisioned IOPS ` +
      `(${c.rootVolumeIops * GP3.maxThroughputPerIops} for ${c.rootVolumeIops} IOPS)`);
  }

  c.sshCidrs.forEach((cidr, i) => {
    const problem = cidrProblem(cidr);
    if (problem) {
      fail(['sshCidrs', i], problem);
    } else if (opensToTheWorld(cidr) && !c.allowSshFromAnywhere) {
      fail(['sshCidrs', i], 'opens SSH to the whole internet or a large part of it; set allowSshFromAnywhere: ' +
        'true to mean it, or use Session Manager (no SSH needed)');
    }
  });

  if (c.spotMaxPricePerHour !== undefined && c.spotMaxPricePerHour > facts.onDemandPricePerHour) {
    fail('spotMaxPricePerHour', `is above the on-demand price of ${c.instanceType} ` +
      `($${facts.onDemandPricePerHour}/h); allowed: above 0 and at most ${facts.onDemandPricePerHour}`);
  }

  const needsReservation = c.market === 'capacity-block';
  if (needsReservation && c.capacityReservationId === undefined) {
    fail('capacityReservationId', `is required when market is "${c.market}"; give the Capacity Block's cr-… id`);
  }
  if (c.market === 'capacity-block' && !facts.capacityBlocks) {
    fail('market', `"capacity-block" is not offered for ${c.instanceType}; types with Capacity Blocks: ` +
      list(INSTANCE_TYPE_NAMES.filter((t) => instanceFacts(t)?.capacityBlocks)));
  }
  if (c.capacityReservationId !== undefined && c.availabilityZoneId === undefined && c.subnetId === undefined) {
    fail('availabilityZoneId', `is required with capacityReservationId: a reservation lives in one AZ, and the ` +
      `box must launch there; give its AZ ID (or a subnetId in that AZ)`);
  }
  if (c.capacityReservationId !== undefined && !['capacity-block', 'capacity-reservation'].includes(c.market)) {
    fail('capacityReservationId', `only applies to market "capacity-block" or "capacity-reservation", not "${c.market}"`);
  }
}

/**
 * 0.0.0.0/0 and ::/0, and blocks so wide they amount to it (0.0.0.0/1 + 128.0.0.0/1 is the world
 * too): shorter than /8 for IPv4, /16 for IPv6.
 */
function opensToTheWorld(cidr: string): boolean {
  const prefix = Number(cidr.split('/')[1]);
  return cidr.includes(':') ? prefix < 16 : prefix < 8;
}

/** Why a string is not a usable CIDR block, or undefined when it is. */
function cidrProblem(cidr: string): string | undefined {
  let parsed: [ipaddr.IPv4 | ipaddr.IPv6, number];
  try {
    parsed = ipaddr.parseCIDR(cidr);
  } catch {
    return 'is not a CIDR block; expected e.g. 203.0.113.7/32 or 2001:db8::/64';
  }
  const [address, prefix] = parsed;
  const network = address.kind() === 'ipv4'
    ? ipaddr.IPv4.networkAddressFromCIDR(cidr)
    : ipaddr.IPv6.networkAddressFromCIDR(cidr);
  if (network.toString() !== address.toString()) {
    return `has host bits set; the network is ${network.toString()}/${prefix}`;
  }
  return undefined;
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

/** Env vars that override single keys, documented in the README. */
export const ENV_OVERRIDES: Readonly<Record<string, keyof ConfigInput>> = {
  TRAINIUM_SPOT_REGION: 'region',
  TRAINIUM_SPOT_INSTANCE_TYPE: 'instanceType',
  TRAINIUM_SPOT_AZ_ID: 'availabilityZoneId',
  TRAINIUM_SPOT_MARKET: 'market',
  TRAINIUM_SPOT_SUBNET_ID: 'subnetId',
};

/** The key in cdktf.json `context` that holds a config object. */
export const CONTEXT_KEY = 'trainiumSpot';
export const CONFIG_FILE_ENV = 'TRAINIUM_SPOT_CONFIG';

export interface ConfigSources {
  /** cdktf.json `context` (the whole object; our part lives under `trainiumSpot`). */
  readonly context?: Record<string, unknown>;
  readonly env?: Readonly<Record<string, string | undefined>>;
}

type Json = Record<string, unknown>;
const isPlainObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Later layers win; nested objects merge key by key, arrays and scalars are replaced. */
function mergeLayers(layers: readonly Json[]): Json {
  const out: Json = {};
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) {
      out[key] = isPlainObject(value) && isPlainObject(out[key])
        ? mergeLayers([out[key] as Json, value])
        : value;
    }
  }
  return out;
}

function readConfigFile(path: string): Json {
  let text: string;
  try {
    text = fs.readFileSync(path, 'utf8');
  } catch {
    throw new ConfigError(`${CONFIG_FILE_ENV}: "${path}" cannot be read; expected the path of a JSON config file`);
  }
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (err) {
    throw new ConfigError(`${CONFIG_FILE_ENV}: "${path}" is not valid JSON (${(err as Error).message})`);
  }
  if (!isPlainObject(parsed)) {
    throw new ConfigError(`${CONFIG_FILE_ENV}: "${path}" must hold a JSON object of config keys`);
  }
  return parsed;
}

function envLayer(env: Readonly<Record<string, string | undefined>>): Json {
  const layer: Json = {};
  for (const [name, key] of Object.entries(ENV_OVERRIDES)) {
    const value = env[name];
    if (value !== undefined && value !== '') layer[key] = value;
  }
  const org = env.TF_CLOUD_ORGANIZATION;
  const workspace = env.TF_WORKSPACE;
  if (org && workspace) {
    layer.backend = { type: 'cloud', organization: org, workspace, ...(env.TF_CLOUD_HOSTNAME ? { hostname: env.TF_CLOUD_HOSTNAME } : {}) };
  }
  return layer;
}

function valueAt(input: unknown, path: readonly PropertyKey[]): unknown {
  return path.reduce<unknown>((v, key) => (isPlainObject(v) || Array.isArray(v) ? (v as Json)[key as string] : undefined), input);
}

function describeIssue(issue: z.core.$ZodIssue, input: unknown): string {
  const path = issue.path.map(String).join('.');
  if (issue.code === 'unrecognized_keys') {
    const where = path ? ` in ${path}` : '';
    return `unknown key${issue.keys.length > 1 ? 's' : ''} ${issue.keys.map((k) => `"${k}"`).join(', ')}${where}; ` +
      `allowed: ${list(allowedKeysAt(issue.path))}`;
  }
  const value = valueAt(input, issue.path);
  const shown = value === undefined ? '(missing)' : JSON.stringify(value);
  return `${path || 'config'} ${shown} ${phrase(issue, value)}`;
}

/** Our own messages read as predicates ("must be ..."); zod's built-in ones are rephrased to match. */
function phrase(issue: z.core.$ZodIssue, value: unknown): string {
  if (issue.code === 'invalid_type') {
    if (value === undefined) return 'is required';
    const expected = issue.expected === 'int' ? 'whole number' : issue.expected;
    return `must be a ${expected}`;
  }
  return /^[A-Z]/.test(issue.message) ? `is invalid: ${issue.message}` : issue.message;
}

/** The keys a strict object accepts at a path of the schema, for "unknown key" messages. */
function allowedKeysAt(path: readonly PropertyKey[]): string[] {
  let shape: Record<string, z.ZodType> = configSchema.shape;
  for (const key of path) {
    let node: z.ZodType | undefined = shape[key as string];
    while (node && !(node instanceof z.ZodObject) && 'unwrap' in node) node = (node as z.ZodDefault).unwrap() as z.ZodType;
    if (!(node instanceof z.ZodObject)) return Object.keys(shape);
    shape = node.shape;
  }
  return Object.keys(shape);
}

/** Parse one merged input object; throws ConfigError naming the first problem. */
export function parseConfig(input: unknown): Config {
  const result = configSchema.safeParse(input);
  if (!result.success) {
    throw new ConfigError(`Invalid config: ${describeIssue(result.error.issues[0], input)}`);
  }
  const c = result.data;
  const facts = instanceFacts(c.instanceType)!;
  return deepFreeze({
    ...c,
    availabilityZoneId: c.availabilityZoneId ?? facts.offeredIn[c.region][0],
    cpuCoreCount: c.cpuCoreCount ?? facts.defaultCores,
    cpuThreadsPerCore: c.cpuThreadsPerCore ?? facts.defaultThreadsPerCore,
    rootVolumeSizeExplicit: c.rootVolumeSizeGiB !== undefined,
  });
}

/** Merge every source, validate once, freeze. */
export function loadConfig(sources: ConfigSources = {}): Config {
  const env = sources.env ?? {};
  const contextLayer = sources.context?.[CONTEXT_KEY];
  if (contextLayer !== undefined && !isPlainObject(contextLayer)) {
    throw new ConfigError(`cdktf.json context.${CONTEXT_KEY} must be an object of config keys`);
  }
  const filePath = env[CONFIG_FILE_ENV];
  const layers: Json[] = [
    contextLayer ?? {},
    filePath ? readConfigFile(filePath) : {},
    envLayer(env),
  ];
  return parseConfig(mergeLayers(layers));
}

function deepFreeze<T>(value: T): T {
  if (typeof value === 'object' && value !== null) {
    Object.values(value).forEach(deepFreeze);
    Object.freeze(value);
  }
  return value;
}
