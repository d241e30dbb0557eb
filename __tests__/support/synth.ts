/** Synthesizes the stack from a config input, the way `cdktf synth` does, for assertions. */
import { gunzipSync } from 'node:zlib';
import { Testing } from 'cdktf';
import { ConfigInput, parseConfig } from '../../src/config';
import { STACK_NAME, TrainiumSpotStack } from '../../src/stack';

export type TerraformJson = {
  resource: Record<string, Record<string, Record<string, any>>>;
  data: Record<string, Record<string, Record<string, any>>>;
  output: Record<string, { value: unknown; description?: string }>;
  locals?: Record<string, string>;
  provider: Record<string, Record<string, any>[]>;
  terraform: Record<string, any>;
};

/** The synthesized Terraform JSON text of the stack for this config. */
export function synthesize(input: ConfigInput = {}): string {
  const app = Testing.app();
  const stack = new TrainiumSpotStack(app, STACK_NAME, parseConfig(input));
  return Testing.synth(stack);
}

export function synthesizeJson(input: ConfigInput = {}): TerraformJson {
  return JSON.parse(synthesize(input)) as TerraformJson;
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

/** The cloud-config of an instance block, plain (`user_data`) or gzipped whole (`user_data_base64`). */
export function userDataText(block: Record<string, any>): string {
  if (block.user_data !== undefined) return String(block.user_data);
  return gunzipSync(Buffer.from(String(block.user_data_base64), 'base64')).toString('utf8');
}
