/** Synthesizes the stack from a config input, the way `cdktf synth` does, for assertions. */
import type { ConfigInput } from '../../src/config';
import { cachedSynth } from './synth-cache';

export type TerraformJson = {
  resource: Record<string, Record<string, Record<string, any>>>;
  data: Record<string, Record<string, Record<string, any>>>;
  output: Record<string, { value: unknown; description?: string }>;
  locals?: Record<string, string>;
  provider: Record<string, Record<string, any>[]>;
  terraform: Record<string, any>;
};

/** The synthesized Terraform JSON text of the stack for this config; made once per configuration per jest run. */
export function synthesize(input: ConfigInput = {}): string {
  return cachedSynth(input, () => synthesizeStack(input));
}

/**
 * cdktf, the providers and the stack are required here, on the first synthesis a test file does
 * not find in the cache, rather than imported: a test file whose stacks are all cached never loads them.
 */
function synthesizeStack(input: ConfigInput): string {
  /* eslint-disable @typescript-eslint/no-require-imports */
  const { Testing } = require('cdktf') as typeof import('cdktf');
  const { parseConfig } = require('../../src/config') as typeof import('../../src/config');
  const { STACK_NAME, TrainiumSpotStack } = require('../../src/stack') as typeof import('../../src/stack');
  /* eslint-enable @typescript-eslint/no-require-imports */
  return Testing.synth(new TrainiumSpotStack(Testing.app(), STACK_NAME, parseConfig(input)));
}

export function synthesizeJson(input: ConfigInput = {}): TerraformJson {
  return JSON.parse(synthesize(input)) as TerraformJson;
}

/** The cluster stack (`trainium-spot-cluster`) of a config with `cluster`, made once per configuration per jest run. */
export function synthesizeClusterJson(input: ConfigInput): TerraformJson {
  const text = cachedSynth({ clusterStackOf: input }, () => {
    /* eslint-disable @typescript-eslint/no-require-imports */
    const { Testing } = require('cdktf') as typeof import('cdktf');
    const { parseConfig } = require('../../src/config') as typeof import('../../src/config');
    const { CLUSTER_STACK_NAME, TrainiumSpotClusterStack } = require('../../src/cluster-stack') as typeof import('../../src/cluster-stack');
    /* eslint-enable @typescript-eslint/no-require-imports */
    return Testing.synth(new TrainiumSpotClusterStack(Testing.app(), CLUSTER_STACK_NAME, parseConfig(input)));
  });
  return JSON.parse(text) as TerraformJson;
}

/** The only block of a resource (or data source) type; fails when there are none or several. */
export function onlyBlock(blocks: Record<string, Record<string, any>> | undefined, type: string): Record<string, any> {
  const all = Object.values(blocks?.[type] ?? {});
  if (all.length !== 1) throw new Error(`expected exactly one ${type}, found ${all.length}`);
  return all[0];
}

/** Every block of a resource type. */
export function blocksOf(json: TerraformJson, type: string): Record<string, any>[] {
  return Object.values(json.resource[type] ?? {});
}

/** The cloud-config of an instance block. */
export function userDataText(block: Record<string, any>): string {
  return String(block.user_data);
}
