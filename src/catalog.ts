/**
 * Facts about EC2 instance types, quotas and prices: one table, each entry with its source.
 *
 * The stack, the config validation and the preflight CLI all read from here; nothing else in the
 * project may hold a second copy of these numbers. This module imports nothing of ours.
 */

// ---------------------------------------------------------------------------------------------
// Quotas
// ---------------------------------------------------------------------------------------------

/** A Service Quotas entry of the `ec2` service, counted in vCPUs. */
export interface QuotaRef {
  readonly code: string;
  readonly name: string;
}

/** The EC2 instance families that share one vCPU quota per purchase market. */
export type QuotaFamily = 'trn' | 'inf' | 'p' | 'g-vt' | 'standard';

/** Purchase markets that draw on a quota. Capacity Blocks and reservations draw on the on-demand one. */
export type QuotaMarket = 'spot' | 'on-demand';

/** The Service Quotas service code that holds every EC2 instance quota. */
export const EC2_SERVICE_CODE = 'ec2';

/**
 * vCPU quotas per family and market.
 * Source: Service Quotas console / `aws service-quotas list-service-quotas --service-code ec2`,
 * and the EC2 User Guide, "Amazon EC2 service quotas" (vCPU-based On-Demand and Spot limits).
 * The "Running Dedicated trn Hosts" quota that older guides name counts Dedicated Hosts; it has
 * nothing to do with spot or on-demand instances.
 */
export const QUOTAS: Readonly<Record<QuotaFamily, Readonly<Record<QuotaMarket, QuotaRef>>>> = {
  trn: {
    spot: { code: 'L-6B0D517C', name: 'All Trn Spot Instance Requests' },
    'on-demand': { code: 'L-2C3B7624', name: 'Running On-Demand Trn instances' },
  },
  inf: {
    spot: { code: 'L-B5D1601B', name: 'All Inf Spot Instance Requests' },
    'on-demand': { code: 'L-1945791B', name: 'Running On-Demand Inf instances' },
  },
  p: {
    spot: { code: 'L-7212CCBC', name: 'All P Spot Instance Requests' },
    'on-demand': { code: 'L-417A185B', name: 'Running On-Demand P instances' },
  },
  'g-vt': {
    spot: { code: 'L-3819A6DF', name: 'All G and VT Spot Instance Requests' },
    'on-demand': { code: 'L-DB2E81BA', name: 'Running On-Demand G and VT instances' },
  },
  standard: {
    spot: { code: 'L-34B43A08', name: 'All Standard (A, C, D, H, I, M, R, T, Z) Spot Instance Requests' },
    'on-demand': {
      code: 'L-1216C47A',
      name: 'Running On-Demand Standard (A, C, D, H, I, M, R, T, Z) instances',
    },
  },
};

// ---------------------------------------------------------------------------------------------
// Instance types
// ---------------------------------------------------------------------------------------------

export interface InstanceTypeFacts {
  readonly family: QuotaFamily;
  /** Default vCPUs: what quotas count, whatever CPU options say. */
  readonly vcpus: number;
  readonly defaultCores: number;
  readonly defaultThreadsPerCore: number;
  /** Core counts the CPU options accept. */
  readonly validCores: readonly number[];
  readonly validThreadsPerCore: readonly number[];
  readonly memoryGiB: number;
  readonly accelerators: string;
  /** Region -> AZ IDs that offer the type, in the order we pick a default from. */
  readonly offeredIn: Readonly<Record<string, readonly string[]>>;
  /** On-demand Linux price in USD per hour, US East (N. Virginia). */
  readonly onDemandPricePerHour: number;
  /** Whether EC2 Capacity Blocks for ML can be bought for this type. */
  readonly capacityBlocks: boolean;
}

/** Where and when the prices below were read. */
export const PRICE_SOURCE =
  'EC2 On-Demand pricing page, Linux, US East (N. Virginia), as catalogued here; other regions differ, check before relying';

const range = (from: number, to: number, step = 1): number[] => {
  const out: number[] = [];
  for (let n = from; n <= to; n += step) out.push(n);
  return out;
};

// Trn1 regions and AZ IDs: `aws ec2 describe-instance-type-offerings --location-type
// availability-zone-id --filters Name=instance-type,Values=trn1.2xlarge` in each region.
const TRN1_OFFERINGS = {
  'us-east-1': ['use1-az5', 'use1-az6'],
  'us-east-2': ['use2-az3'],
  'us-west-2': ['usw2-az1', 'usw2-az4'],
} as const;

// Inf2 regions: EC2 Inf2 product page ("available in US East (N. Virginia), US East (Ohio),
// US West (Oregon)..."); AZ IDs from describe-instance-type-offerings as above.
const INF2_OFFERINGS = {
  'us-east-1': ['use1-az1', 'use1-az2', 'use1-az4', 'use1-az5', 'use1-az6'],
  'us-east-2': ['use2-az1', 'use2-az2', 'use2-az3'],
  'us-west-2': ['usw2-az1', 'usw2-az2', 'usw2-az3', 'usw2-az4'],
} as const;

/**
 * Supported instance types.
 * vCPUs, cores and threads: `aws ec2 describe-instance-types --query 'InstanceTypes[].VCpuInfo'`
 * (EC2 User Guide, "CPU options for Amazon EC2 instances"). Memory and accelerators: the EC2
 * accelerated-computing instance specifications. Capacity Blocks: EC2 User Guide, "Capacity
 * Blocks for ML", supported instance types.
 */
export const INSTANCE_TYPES: Readonly<Record<string, InstanceTypeFacts>> = {
  'trn1.2xlarge': {
    family: 'trn', vcpus: 8, defaultCores: 4, defaultThreadsPerCore: 2,
    validCores: range(1, 4), validThreadsPerCore: [1, 2],
    memoryGiB: 32, accelerators: '1 Trainium chip (2 NeuronCores-v2)',
    offeredIn: TRN1_OFFERINGS, onDemandPricePerHour: 1.34375, capacityBlocks: false,
  },
  'trn1.32xlarge': {
    family: 'trn', vcpus: 128, defaultCores: 64, defaultThreadsPerCore: 2,
    validCores: range(2, 64, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 512, accelerators: '16 Trainium chips (32 NeuronCores-v2)',
    offeredIn: TRN1_OFFERINGS, onDemandPricePerHour: 21.5, capacityBlocks: true,
  },
  'trn1n.32xlarge': {
    family: 'trn', vcpus: 128, defaultCores: 64, defaultThreadsPerCore: 2,
    validCores: range(2, 64, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 512, accelerators: '16 Trainium chips (32 NeuronCores-v2)',
    offeredIn: { 'us-east-1': ['use1-az6'], 'us-east-2': ['use2-az3'] },
    onDemandPricePerHour: 24.78, capacityBlocks: true,
  },
  'trn2.48xlarge': {
    family: 'trn', vcpus: 192, defaultCores: 96, defaultThreadsPerCore: 2,
    validCores: range(2, 96, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 2048, accelerators: '16 Trainium2 chips (128 NeuronCores-v3)',
    offeredIn: { 'us-east-2': ['use2-az3'] },
    onDemandPricePerHour: 44.7, capacityBlocks: true,
  },
  'inf2.xlarge': {
    family: 'inf', vcpus: 4, defaultCores: 2, defaultThreadsPerCore: 2,
    validCores: range(1, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 16, accelerators: '1 Inferentia2 chip (2 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 0.7582, capacityBlocks: false,
  },
  'inf2.8xlarge': {
    family: 'inf', vcpus: 32, defaultCores: 16, defaultThreadsPerCore: 2,
    validCores: range(1, 16), validThreadsPerCore: [1, 2],
    memoryGiB: 128, accelerators: '1 Inferentia2 chip (2 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 1.9679, capacityBlocks: false,
  },
  'inf2.24xlarge': {
    family: 'inf', vcpus: 96, defaultCores: 48, defaultThreadsPerCore: 2,
    validCores: range(2, 48, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 384, accelerators: '6 Inferentia2 chips (12 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 6.4906, capacityBlocks: false,
  },
  'inf2.48xlarge': {
    family: 'inf', vcpus: 192, defaultCores: 96, defaultThreadsPerCore: 2,
    validCores: range(2, 96, 2), validThreadsPerCore: [1, 2],
    memoryGiB: 768, accelerators: '12 Inferentia2 chips (24 NeuronCores-v2)',
    offeredIn: INF2_OFFERINGS, onDemandPricePerHour: 12.9813, capacityBlocks: false,
  },
};

export const INSTANCE_TYPE_NAMES: readonly string[] = Object.keys(INSTANCE_TYPES);

// ---------------------------------------------------------------------------------------------
// Storage limits
// ---------------------------------------------------------------------------------------------

/** gp3 limits. Source: EC2 User Guide, "Amazon EBS General Purpose SSD volumes" (gp3). */
export const GP3 = {
  minSizeGiB: 1,
  maxSizeGiB: 16384,
  minIops: 3000,
  maxIops: 16000,
  maxIopsPerGiB: 500,
  minThroughputMiBps: 125,
  maxThroughputMiBps: 1000,
  /** Throughput may be at most IOPS / 4 (0.25 MiB/s per provisioned IOPS). */
  maxThroughputPerIops: 0.25,
} as const;

/** EC2 limit on raw user data, in bytes. Source: EC2 User Guide, "Run commands at launch". */
export const USER_DATA_LIMIT_BYTES = 16384;

// ---------------------------------------------------------------------------------------------
// What the stack creates and the CLI looks for
// ---------------------------------------------------------------------------------------------

/** The tag every box carries (beside `Name` = the config's name): the CLI finds boxes by both. */
export const MANAGED_BY_TAG = { key: 'ManagedBy', value: 'trainium-spot' } as const;

/**
 * Where SSM keeps generated private keys, followed by the key pair id: the path AWS itself uses for
 * the keys it generates. Source: AWS CloudFormation User Guide, AWS::EC2::KeyPair ("the private key
 * is saved to AWS Systems Manager Parameter Store ... /ec2/keypair/{key_pair_id}"),
 * https://docs.aws.amazon.com/AWSCloudFormation/latest/UserGuide/aws-resource-ec2-keypair.html, checked 2026-12-01.
 */
export const KEY_PARAMETER_PREFIX = '/ec2/keypair/';

/** The login user of the Ubuntu-based Neuron DLAMIs. */
export const LOGIN_USER = 'ubuntu';

/** The file in ~/.ssh that holds a generated private key: one per key pair, so never a stale one. */
export const keyFileName = (name: string, keyPairId: string): string => `${name}-${keyPairId}.pem`;

/**
 * ssh's ProxyCommand through Session Manager: ssh connects to the instance id (%h), no open port.
 * Source: Systems Manager User Guide, "Allow and control permissions for SSH connections through
 * Session Manager" (AWS-StartSSHSession), https://docs.aws.amazon.com/systems-manager/latest/userguide/session-manager-getting-started-enable-ssh-connections.html,
 * checked 2026-12-01.
 */
export const sessionManagerProxyCommand = (region: string): string =>
  `aws ssm start-session --target %h --document-name AWS-StartSSHSession --parameters portNumber=%p --region ${region}`;

/**
 * The custom metric the on-box idle check publishes after each check, per box (dimension
 * `InstanceId`): 1 when the check found the box idle, 0 when it found activity. `status` shows the
 * latest value.
 */
export const IDLE_METRIC = { namespace: 'TrainiumSpot', name: 'Idle', dimension: 'InstanceId' } as const;

// ---------------------------------------------------------------------------------------------
// Look-ups
// ---------------------------------------------------------------------------------------------

export function instanceFacts(instanceType: string): InstanceTypeFacts | undefined {
  return Object.prototype.hasOwnProperty.call(INSTANCE_TYPES, instanceType)
    ? INSTANCE_TYPES[instanceType]
    : undefined;
}

/** Regions that offer the type, sorted. */
export function regionsOffering(instanceType: string): string[] {
  return Object.keys(instanceFacts(instanceType)?.offeredIn ?? {}).sort();
}

/** Region codes look like `us-east-2` (or `us-gov-west-1`). */
export const REGION_PATTERN = /^[a-z]{2}(-gov)?-[a-z]+-\d$/;

/** AZ IDs look like `use2-az3`: a region abbreviation and an AZ number. */
export const AZ_ID_PATTERN = /^[a-z]{2,4}\d-az\d{1,2}$/;

/** The shell command that asks for more quota. */
export function quotaIncreaseCommand(quota: QuotaRef, desiredVcpus: number, region: string): string {
  return (
    `aws service-quotas request-service-quota-increase --service-code ${EC2_SERVICE_CODE} ` +
    `--quota-code ${quota.code} --desired-value ${desiredVcpus} --region ${region}`
  );
}
