/**
 * The `cluster` key: a Trainium cluster on Slurm whose compute nodes exist only while jobs need them.
 * Parsed by the one config schema (src/config.ts), which calls `checkCluster` for the cross-field checks.
 */
import { z } from 'zod';
import { INSTANCE_TYPES, instanceFacts, instanceFamily, resolveImage } from './catalog';
import { CLUSTER_MARKETS, MARKET_FACTS } from './markets';

/** Types with EFA on several network cards: the ones a multi-node job can use. */
export const CLUSTER_INSTANCE_TYPES = Object.entries(INSTANCE_TYPES).filter(([, f]) => f.efaNetworkCards !== undefined).map(([t]) => t);

/**
 * FSx for Lustre SCRATCH_2 capacities: 1,200 GiB, then multiples of 2,400 GiB. Source: FSx for Lustre
 * API Reference, CreateFileSystem `StorageCapacity`,
 * https://docs.aws.amazon.com/fsx/latest/APIReference/API_CreateFileSystem.html, checked 2026-12-07.
 */
export const LUSTRE_SCRATCH_CAPACITY = { first: 1200, step: 2400 } as const;

const wholeNumber = (min: number, max: number, unit = '') =>
  z.number().int().min(min, { error: `must be a whole number from ${min} to ${max}${unit}` })
    .max(max, { error: `must be a whole number from ${min} to ${max}${unit}` });

const sharedStorageSchema = z.discriminatedUnion('type', [
  z.strictObject({ type: z.literal('efs') }),
  z.strictObject({ type: z.literal('fsx-lustre'), storageCapacityGiB: z.number().int().positive() }),
], { error: 'must have type "efs" or "fsx-lustre"' });

export const clusterSchema = z.strictObject({
  nodes: wholeNumber(1, 64).default(2).describe('The most compute nodes that can exist at once.'),
  instanceType: z.string().default('trn1.32xlarge').describe(`Compute node type, one with EFA: ${CLUSTER_INSTANCE_TYPES.join(', ')}.`),
  market: z.enum(CLUSTER_MARKETS, { error: `must be one of ${CLUSTER_MARKETS.join(', ')}` }).default('spot')
    .describe('Purchase market of the compute nodes; spot nodes are one-time and terminate on interruption (their job is requeued).'),
  capacityReservationId: z.string().regex(/^cr-[0-9a-f]{8,17}$/, { error: 'must look like cr-0123456789abcdef0' }).optional()
    .describe('The Capacity Block the nodes launch into (market capacity-block).'),
  headInstanceType: z.string().regex(/^[a-z][a-z0-9-]*\.[a-z0-9]+$/, { error: 'must be an EC2 instance type such as m7i.large' })
    .default('m7i.large').describe('The head node: Slurm controller and login box, on demand.'),
  sharedStorage: sharedStorageSchema.prefault({ type: 'efs' })
    .describe('Storage mounted at /shared on the head and every node: efs (default), or fsx-lustre with storageCapacityGiB.'),
  nodeIdleMinutes: wholeNumber(1, 1440, ' minutes').default(10)
    .describe('A compute node with no job for this long is terminated (Slurm SuspendTime).'),
}).describe('Scale out: a Slurm cluster in a stack of its own, trainium-spot-cluster.');

export type ClusterSettings = z.output<typeof clusterSchema>;

/** The cross-field checks; `fail(path, message)` reports one problem; `image` is the config's `image`, which the nodes use too. */
export function checkCluster(c: ClusterSettings, region: string, image: string, fail: (path: (string | number)[], message: string) => void): void {
  const facts = instanceFacts(c.instanceType);
  const family = instanceFamily(c.instanceType);
  if (facts && family && facts.efaNetworkCards !== undefined) {
    const resolved = resolveImage(image, family);
    if ('problem' in resolved) fail(['image'], `(for the cluster's ${c.instanceType}) ${resolved.problem}`);
  }
  if (!facts) {
    fail(['cluster', 'instanceType'], `is not a supported instance type; cluster types (with EFA): ${CLUSTER_INSTANCE_TYPES.join(', ')}`);
  } else if (facts.efaNetworkCards === undefined) {
    fail(['cluster', 'instanceType'], `has no EFA, which multi-node jobs need; cluster types: ${CLUSTER_INSTANCE_TYPES.join(', ')}`);
  } else if (!facts.offeredIn[region]) {
    fail(['cluster', 'instanceType'], `is not offered in ${region}; regions that offer it: ${Object.keys(facts.offeredIn).join(', ')}`);
  } else if (c.market === 'capacity-block' && !facts.capacityBlocks) {
    fail(['cluster', 'market'], `"capacity-block" is not offered for ${c.instanceType}`);
  }
  if (MARKET_FACTS[c.market].needsReservation && c.capacityReservationId === undefined) {
    fail(['cluster', 'capacityReservationId'], `is required when cluster.market is "${c.market}"; give the Capacity Block's cr-… id`);
  }
  if (!MARKET_FACTS[c.market].needsReservation && c.capacityReservationId !== undefined) {
    fail(['cluster', 'capacityReservationId'], `is only used with cluster.market "capacity-block", not "${c.market}"`);
  }
  if (c.sharedStorage.type === 'fsx-lustre') {
    const size = c.sharedStorage.storageCapacityGiB;
    const { first, step } = LUSTRE_SCRATCH_CAPACITY;
    if (size !== first && size % step !== 0) {
      fail(['cluster', 'sharedStorage', 'storageCapacityGiB'], `is not an FSx for Lustre scratch size; allowed: ${first}, or a multiple of ${step}`);
    }
  }
}
