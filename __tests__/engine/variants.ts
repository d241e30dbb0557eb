/**
 * Every configuration a user can write that changes what Terraform sees, each run through the real
 * engine by whole-stack.test.ts. Adding a variant is one line.
 */
import type { ConfigInput } from '../../src/config';
import { HEAD_IMAGE_PARAMETER, IMAGE_PRESETS, INSTANCE_TYPES, QUOTAS, QuotaMarket } from '../../src/catalog';
import type { Fixture } from '../support/engine';

export interface Variant {
  readonly name: string;
  readonly config: ConfigInput;
  /** Also compare the planned user data and agent document with the renderers' text (one per distinct kind). */
  readonly checkUserData?: boolean;
}

const OWN_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJTkzjSVu7OL1nBNH1wcvaM5u7x3g3F0cT2xjBqfUf9 me@laptop';
export const OWN_SUBNET = 'subnet-0123456789abcdef0';
/** The AMI id of the first preset's fixture image (see PRESET_AMIS), written out for an `image` setting. */
const AMI_ID_LITERAL = 'ami-0123456789abcde00';

export const VARIANTS: readonly Variant[] = [
  { name: 'defaults (spot)', config: {}, checkUserData: true },
  { name: 'on-demand', config: { market: 'on-demand' }, checkUserData: true },
  { name: 'auto', config: { market: 'auto' } },
  { name: 'capacity-block', config: { market: 'capacity-block', instanceType: 'trn1.32xlarge', availabilityZoneId: 'use2-az3', capacityReservationId: 'cr-0123456789abcdef0' } },
  { name: 'capacity-reservation, open', config: { market: 'capacity-reservation' } },
  { name: 'capacity-reservation, targeted', config: { market: 'capacity-reservation', availabilityZoneId: 'use2-az3', capacityReservationId: 'cr-0123456789abcdef0' } },
  { name: '3 boxes on spot', config: { instanceCount: 3 } },
  { name: '2 boxes on auto', config: { market: 'auto', instanceCount: 2 } },
  { name: 'own SSH key', config: { sshPublicKey: OWN_KEY } },
  { name: 'own subnet', config: { subnetId: OWN_SUBNET } },
  { name: 'SSH CIDRs and e-mail notice', config: { sshCidrs: ['203.0.113.0/24', '2001:db8::/48'], notifyEmail: 'ml@example.com' } },
  { name: 'Inferentia inf2.xlarge', config: { instanceType: 'inf2.xlarge' } },
  { name: 'trn1.32xlarge', config: { instanceType: 'trn1.32xlarge' } },
  { name: 'explicit root volume, CPU options, on-demand', config: { market: 'on-demand', rootVolumeSizeGiB: 200, cpuCoreCount: 2, cpuThreadsPerCore: 1 } },
  { name: 'idle check and alarm off, spot service-linked role', config: { idle: { enabled: false }, idleAlarm: { enabled: false }, createSpotServiceLinkedRole: true }, checkUserData: true },
  { name: 'many long process patterns', config: { idle: { processPatterns: Array.from({ length: 60 }, (_, i) => `job-${i}-[a-z0-9]{8}-${'x'.repeat(170)}`) } }, checkUserData: true },
  { name: 'template characters in user text', config: { tags: { 'cost/${center}': '%{team}' }, idle: { processPatterns: ['python .*\\$\\{HOME\\}', '%{'] } }, checkUserData: true },
  { name: 'S3 backend', config: { backend: { type: 's3', bucket: 'my-state', key: 'trainium-spot/terraform.tfstate' } } },
  { name: 'spot through RunInstances, CPU options', config: { spotLaunch: 'run-instances', cpuCoreCount: 2, spotMaxPricePerHour: 0.9 } },
  { name: '2 boxes on auto through RunInstances', config: { market: 'auto', instanceCount: 2, spotLaunch: 'run-instances' } },
  { name: 'TorchNeuron image on trn2 (found by name)', config: { instanceType: 'trn2.48xlarge' } },
  { name: 'JAX image', config: { image: 'jax-0.10' } },
  { name: 'base image by SSM parameter', config: { image: 'ssm:/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id' } },
  { name: 'image by AMI id', config: { image: AMI_ID_LITERAL } },
  { name: 'Terraform Cloud backend', config: { backend: { type: 'cloud', organization: 'acme', workspace: 'ml-box' } } },
  { name: 'data volumes on 2 boxes on auto', config: { market: 'auto', instanceCount: 2, dataVolume: { sizeGiB: 500, iops: 4000, throughputMiBps: 250 } }, checkUserData: true },
  { name: 'data volume from a snapshot, own subnet', config: { subnetId: OWN_SUBNET, dataVolume: { sizeGiB: 100, snapshotId: 'snap-0123456789abcdef0' } } },
];

// ---------------------------------------------------------------------------------------------
// Fixtures: what the data sources answer
// ---------------------------------------------------------------------------------------------

/** Every preset's image: one AMI each, named as the preset expects, behind the preset's parameter if it has one. */
const PRESET_AMIS = Object.entries(IMAGE_PRESETS).map(([preset, facts], i) => ({
  preset,
  id: `ami-0123456789abcde${i.toString(16).padStart(2, '0')}`,
  name: `${facts.amiNamePrefix} 20260707`,
  parameter: facts.ssmParameter,
}));
/** The image of the default preset on trn1 (`pytorch` -> `pytorch-2.9`). */
const DEFAULT_AMI = PRESET_AMIS.find((ami) => ami.preset === 'pytorch-2.9')!;
export const AMI_PARAMETER = DEFAULT_AMI.parameter!;
export const AMI_ID = DEFAULT_AMI.id;
/** The cluster head's Ubuntu image, behind Canonical's parameter. */
const HEAD_AMI_ID = 'ami-0123456789abcdeff';

/** Cluster configurations, one per market and shared storage, each a stack of its own beside the box's. */
export const CLUSTER_VARIANTS: readonly Variant[] = [
  { name: 'cluster on spot', config: { cluster: { nodes: 4 } } },
  { name: 'cluster on demand, FSx for Lustre', config: { cluster: { nodes: 2, market: 'on-demand', sharedStorage: { type: 'fsx-lustre', storageCapacityGiB: 1200 } } } },
  { name: 'cluster in a Capacity Block', config: { cluster: { nodes: 2, market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' } } },
  { name: 'cluster of trn1n.32xlarge', config: { cluster: { nodes: 2, instanceType: 'trn1n.32xlarge' } } },
];

/** Quota large enough for any variant. */
export const ROOMY_QUOTA_VCPUS = 100000;

/** The quotas of every family and market, all `vcpus`, unless overridden by code. */
function allQuotas(vcpus: number): Record<string, number> {
  return Object.fromEntries(Object.values(QUOTAS).flatMap((family) => Object.values(family).map((q) => [q.code, vcpus])));
}

export interface FixtureOptions {
  /** Quota values by code; every other quota is roomy. */
  readonly quotas?: Record<string, number>;
  /** Size of the AMI's root snapshot; `null` gives an AMI with no mapping for its root device. */
  readonly rootSnapshotGiB?: number | null;
}

export function fixture(options: FixtureOptions = {}): Fixture {
  const snapshot = options.rootSnapshotGiB === undefined ? 45 : options.rootSnapshotGiB;
  return {
    region: 'us-east-2',
    availabilityZone: 'us-east-2c',
    quotas: { ...allQuotas(ROOMY_QUOTA_VCPUS), ...options.quotas },
    ssmParameters: {
      ...Object.fromEntries(PRESET_AMIS.filter((ami) => ami.parameter).map((ami) => [ami.parameter!, ami.id])),
      [HEAD_IMAGE_PARAMETER]: HEAD_AMI_ID,
    },
    amis: Object.fromEntries(PRESET_AMIS.map((ami) => [ami.id, {
      name: ami.name,
      architecture: 'x86_64',
      root_device_name: '/dev/sda1',
      block_device_mappings: [
        ...(snapshot === null ? [] : [{ device_name: '/dev/sda1', ebs: { volume_size: String(snapshot), volume_type: 'gp3' }, no_device: '', virtual_name: '' }]),
        { device_name: '/dev/sdb', ebs: {} as Record<string, string>, no_device: '', virtual_name: 'ephemeral0' },
      ],
    }])),
    subnets: { [OWN_SUBNET]: { availability_zone: 'us-east-2c', availability_zone_id: 'use2-az3', vpc_id: 'vpc-0123456789abcdef0' } },
  };
}

/** The quota each market's plan-time guard reads, for a config; capacity-block has none. */
export function guardedQuota(config: ConfigInput): { market: QuotaMarket; code: string; name: string; vcpusPerBox: number } | undefined {
  const market = config.market ?? 'spot';
  if (market === 'capacity-block' || market === 'auto') return undefined;
  const facts = INSTANCE_TYPES[(config.instanceType ?? 'trn1.2xlarge') as keyof typeof INSTANCE_TYPES];
  const quotaMarket: QuotaMarket = market === 'spot' ? 'spot' : 'on-demand';
  return { market: quotaMarket, ...QUOTAS[facts.family][quotaMarket], vcpusPerBox: facts.vcpus };
}
