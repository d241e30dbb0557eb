/**
 * The product is what Terraform sees as a whole: every configuration variant (variants.ts) is
 * synthesized and run through the real Terraform engine — init, validate, plan, apply and plan
 * again — with the stand-in providers (standin/), offline. See the README's Development section.
 */
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { type ConfigInput, parseConfig } from '../../src/config';
import { STACK_NAME, boxUserData } from '../../src/stack';
import { writeTerraformTests } from '../../src/terraform-tests';
import { EngineDir, PlanOutcome, REAL_AWS_VERSION, realAwsCliConfig, realAwsMissingReason, terraformMissingReason } from '../support/engine';
import { synthesizeJson, TerraformJson } from '../support/synth';
import { AMI_ID, AMI_PARAMETER, fixture, guardedQuota, VARIANTS } from './variants';

const skipReason = terraformMissingReason();
// Printed, so a run without terraform says so instead of passing silently.
if (skipReason) console.warn(`SKIPPED whole-stack engine tests: ${skipReason}`);
const engineTest = skipReason ? test.skip : test.concurrent;

/** Terraform runs in parallel up to this many stacks at a time (each starts its providers often). */
const PARALLEL_STACKS = Number(process.env.ENGINE_PARALLEL_STACKS ?? 3);
const TIMEOUT_MS = 15 * 60 * 1000;

let running = 0;
const waiting: (() => void)[] = [];
async function inSlot<T>(work: () => Promise<T>): Promise<T> {
  if (running >= PARALLEL_STACKS) await new Promise<void>((resolve) => waiting.push(resolve));
  running++;
  try {
    return await work();
  } finally {
    running--;
    waiting.shift()?.();
  }
}

/** An initialised directory for a stack, removed after `work`. */
async function withStack<T>(json: TerraformJson, work: (dir: EngineDir) => Promise<T>, options: { backend?: boolean } = {}): Promise<T> {
  return inSlot(async () => {
    const dir = new EngineDir(json, fixture());
    try {
      const init = await dir.init(options);
      expect({ step: 'init', code: init.code, stderr: init.stderr }).toMatchObject({ code: 0 });
      return await work(dir);
    } finally {
      timings.push(...dir.timings);
      dir.remove();
    }
  });
}

/** The step, then the result, so a failure shows what Terraform said. */
function expectPlanned(step: string, plan: PlanOutcome): void {
  expect({ step, errors: plan.errors, stderr: plan.raw.stderr }).toEqual({ step, errors: [], stderr: '' });
  expect(plan.ok).toBe(true);
}

function expectNoChanges(step: string, plan: PlanOutcome): void {
  expectPlanned(step, plan);
  expect({ step, changes: plan.changes }).toEqual({ step, changes: [] });
  expect(plan.summary).toMatchObject({ add: 0, change: 0, remove: 0 });
}

const regex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** Seconds per terraform command over the whole suite, printed at the end (README figures). */
const timings: { command: string; seconds: number }[] = [];
afterAll(() => {
  if (timings.length === 0) return;
  const byCommand = new Map<string, number[]>();
  for (const t of timings) byCommand.set(t.command, [...(byCommand.get(t.command) ?? []), t.seconds]);
  const lines = [...byCommand].map(([command, s]) => {
    const sorted = [...s].sort((a, b) => a - b);
    return `${command}: ${s.length} runs, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s`;
  });
  console.log(`terraform engine timings (stand-in providers)\n${lines.join('\n')}`);
});

// ------------------------------------------------------------------------------ every variant
describe('every configuration variant on the Terraform engine', () => {
  for (const variant of VARIANTS) {
    engineTest(`${variant.name}: init, validate, plan, quota one box short, apply, plan again, newer AMI`, async () => {
      // GIVEN the synthesized stack of the variant
      const json = synthesizeJson(variant.config);
      // The S3 and cloud backends cannot initialise without credentials: init skips the backend,
      // validate checks the real file, and plan/apply run on local state through an override file.
      const remoteState = Boolean(json.terraform.cloud ?? json.terraform.backend?.s3);
      await withStack(json, async (dir) => {
        // THEN it validates
        const valid = await dir.validate();
        expect({ step: 'validate', diagnostics: valid.diagnostics }).toEqual({ step: 'validate', diagnostics: [] });
        expect(valid.ok).toBe(true);
        if (remoteState) {
          dir.writeFile('backend_override.tf.json', JSON.stringify({ terraform: { backend: { local: { path: '../../../terraform.trainium-spot.tfstate' } } } }));
          const init = await dir.init();
          expect({ step: 'init with the local override', code: init.code, stderr: init.stderr }).toMatchObject({ code: 0 });
        }

        // AND it plans with roomy quotas, and Terraform reads the user data exactly as rendered
        const first = await dir.plan();
        expectPlanned('plan', first);
        expect(first.summary!.add).toBeGreaterThan(0);
        if (variant.checkUserData) expectUserDataAsRendered(variant.config, await dir.show());

        // AND a quota one box short fails the plan with our message
        const quota = guardedQuota(variant.config);
        if (quota) {
          const count = variant.config.instanceCount ?? 1;
          const short = quota.vcpusPerBox * (count - 1);
          dir.setFixture(fixture({ quotas: { [quota.code]: short } }));
          const refused = await dir.plan();
          expect(refused.ok).toBe(false);
          const details = [...new Set(refused.errors.map((e) => `${e.summary}: ${e.detail}`))];
          expect(details).toEqual([expect.stringMatching(new RegExp(`^Resource precondition failed: ${regex(
            `Not enough EC2 ${quota.market} quota in us-east-2: ${count} x ${variant.config.instanceType ?? 'trn1.2xlarge'} ` +
            `needs ${quota.vcpusPerBox * count} vCPUs, but "${quota.name}" (${quota.code}) is ${short} vCPUs. Ask for more with: `)}`))]);
          dir.setFixture(fixture());
        }

        // WHEN it is applied
        const applied = await dir.apply();
        expect({ step: 'apply', code: applied.code, stderr: applied.stderr }).toMatchObject({ code: 0, stderr: '' });
        // THEN every box has an instance id and an Availability Zone
        const outputs = await dir.outputs();
        const boxes = variant.config.instanceCount ?? 1;
        expect(outputs.instance_ids).toEqual(Array.from({ length: boxes }, () => expect.stringMatching(/^i-/)));
        expect(outputs.availability_zones).toEqual(Array.from({ length: boxes }, () => 'us-east-2c'));

        // AND planning again changes nothing (no timestamp, ordering or read-back drift)
        expectNoChanges('plan after apply', await dir.plan());
        // AND a newer AMI with a larger root snapshot leaves the existing boxes alone
        dir.setFixture(fixture({ rootSnapshotGiB: 500 }));
        expectNoChanges('plan after the AMI grew', await dir.plan());
      }, { backend: !remoteState });
    }, TIMEOUT_MS);
  }
});

/** The user data Terraform plans is the renderer's text byte for byte: no `${` or `%{` was read as a template. */
function expectUserDataAsRendered(input: ConfigInput, saved: Awaited<ReturnType<EngineDir['show']>>): void {
  const expected = boxUserData(parseConfig(input));
  const boxes = saved.resource_changes.filter((c) => ['aws_instance', 'aws_spot_instance_request'].includes(c.type));
  expect(boxes.length).toBeGreaterThan(0);
  for (const box of boxes) {
    if ('userData' in expected) {
      expect(box.change.after.user_data).toBe(expected.userData);
    } else {
      expect(box.change.after.user_data_base64).toBe(expected.userDataBase64);
    }
  }
}

// ------------------------------------------------------------------------------ the auto market
describe('the auto market decided on the whole stack', () => {
  engineTest('spot when its quota holds the box, else on-demand, else a plan failure naming both quotas', async () => {
    const json = synthesizeJson({ market: 'auto' });
    await withStack(json, async (dir) => {
      const launched = async (spot: number, onDemand: number) => {
        dir.setFixture(fixture({ quotas: { 'L-6B0D517C': spot, 'L-2C3B7624': onDemand } }));
        const plan = await dir.plan();
        return { plan, boxes: plan.changes.filter((c) => /^aws_(spot_instance_request|instance)\./.test(c.address)).map((c) => c.address.split('.')[0]) };
      };
      // WHEN / THEN
      const spotOnly = await launched(8, 0);
      expectPlanned('auto with spot quota', spotOnly.plan);
      expect(spotOnly.boxes).toEqual(['aws_spot_instance_request']);
      const onDemandOnly = await launched(0, 8);
      expectPlanned('auto with on-demand quota', onDemandOnly.plan);
      expect(onDemandOnly.boxes).toEqual(['aws_instance']);
      const both = await launched(8, 8);
      expect(both.boxes).toEqual(['aws_spot_instance_request']);
      const neither = await launched(0, 0);
      expect(neither.plan.ok).toBe(false);
      expect(neither.plan.errors).toHaveLength(1);
      const detail = neither.plan.errors[0].detail;
      expect(detail).toMatch(/^Neither quota holds the boxes, so market "auto" has nowhere to launch\./);
      expect(detail).toContain('"All Trn Spot Instance Requests" (L-6B0D517C) is 0 vCPUs');
      expect(detail).toContain('"Running On-Demand Trn instances" (L-2C3B7624) is 0 vCPUs');
      expect(detail).toContain('--quota-code L-6B0D517C --desired-value 8 --region us-east-2');
      expect(detail).toContain('--quota-code L-2C3B7624 --desired-value 8 --region us-east-2');
    });
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ the root volume
describe('the root volume on the whole stack', () => {
  const plannedRootSizes = async (dir: EngineDir) => (await dir.show()).resource_changes
    .filter((c) => c.type === 'aws_spot_instance_request' || c.type === 'aws_instance')
    .map((c) => c.change.after.root_block_device[0].volume_size);

  engineTest('a default size is 50 GiB, grows to a larger AMI snapshot, and is 50 GiB for an AMI with no root mapping', async () => {
    await withStack(synthesizeJson(), async (dir) => {
      for (const [snapshot, size] of [[45, 50], [75, 75], [null, 50]] as const) {
        dir.setFixture(fixture({ rootSnapshotGiB: snapshot }));
        const plan = await dir.plan();
        expectPlanned(`plan with a root snapshot of ${snapshot}`, plan);
        expect({ snapshot, sizes: await plannedRootSizes(dir) }).toEqual({ snapshot, sizes: [size] });
      }
    });
  }, TIMEOUT_MS);

  engineTest('an explicit size below the AMI snapshot fails the plan, saying so; one that holds it plans', async () => {
    await withStack(synthesizeJson({ rootVolumeSizeGiB: 60 }), async (dir) => {
      dir.setFixture(fixture({ rootSnapshotGiB: 75 }));
      const refused = await dir.plan();
      expect(refused.ok).toBe(false);
      expect(refused.errors.map((e) => e.detail)).toEqual([
        `rootVolumeSizeGiB is 60 GiB, but the AMI from ${AMI_PARAMETER} (${AMI_ID}) has a 75 GiB root snapshot. ` +
        'Set rootVolumeSizeGiB to at least 75, or leave it out to size the volume to the AMI automatically.',
      ]);
      dir.setFixture(fixture({ rootSnapshotGiB: 60 }));
      expectPlanned('explicit size that holds the AMI', await dir.plan());
    });
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ capacity blocks
describe('a Capacity Block box after provider 6.25 reads its market options back empty', () => {
  const config: ConfigInput = VARIANTS.find((v) => v.name === 'capacity-block')!.config;

  engineTest('would be replaced on the next plan without ignore_changes on instance_market_options', async () => {
    // GIVEN the stack without the fix: the stand-in reads instance_market_options back empty, as 6.25 does
    const json = synthesizeJson(config);
    for (const instance of Object.values(json.resource.aws_instance)) {
      instance.lifecycle.ignore_changes = instance.lifecycle.ignore_changes.filter((a: string) => a !== 'instance_market_options');
    }
    await withStack(json, async (dir) => {
      const applied = await dir.apply();
      expect({ code: applied.code, stderr: applied.stderr }).toMatchObject({ code: 0 });
      // WHEN planning against the state whose instance_market_options is now empty
      const plan = await dir.plan();
      // THEN the box and its disk would be replaced: the fix in the stack is what prevents it
      expect(plan.changes.filter((c) => c.address.startsWith('aws_instance.'))).toEqual([
        { address: expect.stringMatching(/^aws_instance\..+\[0\]$/), action: 'replace' },
      ]);
    });
  }, TIMEOUT_MS);

  test('the stack ignores it (the variant above proves No changes against the emptied state)', () => {
    const instance = Object.values(synthesizeJson(config).resource.aws_instance)[0];
    expect(instance.lifecycle.ignore_changes).toContain('instance_market_options');
  });
});

// ------------------------------------------------------------------------------ broken stacks
describe('the engine tests catch a broken stack', () => {
  const spotRequest = (json: TerraformJson) => Object.values(json.resource.aws_spot_instance_request)[0];
  const firstTag = (json: TerraformJson) => Object.values(json.resource.aws_ec2_tag)[0];
  const breakages: [string, (json: TerraformJson) => void, RegExp][] = [
    ['an unknown attribute', (json) => { spotRequest(json).instance_flavour = 'large'; }, /Extraneous JSON object property/],
    ['a wrong type', (json) => { spotRequest(json).root_block_device.volume_size = 'fifty'; }, /Incorrect attribute value type/],
    ['a missing required argument', (json) => { delete firstTag(json).key; }, /Missing required argument/],
    ['`${` in user data', (json) => { spotRequest(json).user_data = 'PAUSE=${PAUSE_SECONDS:-15}\n'; }, /Extra characters after interpolation expression|Invalid character/],
  ];

  engineTest.each(breakages)('validate fails on %s', async (_name, breakIt, summary) => {
    // GIVEN a stack that validates
    const json = synthesizeJson();
    await withStack(json, async (dir) => {
      expect((await dir.validate()).ok).toBe(true);
      // WHEN it is broken
      breakIt(json);
      dir.writeStack(json);
      // THEN the engine refuses it
      const broken = await dir.validate();
      expect(broken.ok).toBe(false);
      expect(broken.diagnostics.map((d) => d.summary)).toEqual([expect.stringMatching(summary)]);
    });
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ terraform test
describe('the shipped `terraform test` files, with the stand-ins supplying the schemas', () => {
  engineTest.each(['defaults (spot)', 'on-demand', 'capacity-reservation, open', 'capacity-block', 'auto', '3 boxes on spot', 'own SSH key',
    'spot through RunInstances, CPU options', '2 boxes on auto through RunInstances', 'TorchNeuron image on trn2 (found by name)'])(
    '%s: every run passes', async (name) => {
      // GIVEN the stack and the test file the app writes beside it for this market
      const config = parseConfig(VARIANTS.find((v) => v.name === name)!.config);
      await withStack(synthesizeJson(VARIANTS.find((v) => v.name === name)!.config), async (dir) => {
        writeTerraformTests(dir.stackDir, STACK_NAME, config);
        // WHEN
        const run = await dir.terraform(['test', '-no-color']);
        // THEN
        expect({ code: run.code, stderr: run.stderr, stdout: run.stdout }).toMatchObject({ code: 0, stderr: '' });
        expect(run.stdout).toMatch(/^Success! [1-9]\d* passed, 0 failed\.$/m);
      });
    }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ the real AWS provider
describe(`terraform validate with the real AWS provider ${REAL_AWS_VERSION}, where installed`, () => {
  const missing = skipReason ?? realAwsMissingReason();
  if (!skipReason && missing) console.warn(`SKIPPED real AWS provider validation: ${missing}`);
  const realTest = missing ? test.skip : test.concurrent;

  realTest.each(['defaults (spot)', 'capacity-block', 'SSH CIDRs and e-mail notice', 'explicit root volume, CPU options, on-demand', 'spot through RunInstances, CPU options', '2 boxes on auto through RunInstances'])('%s validates', async (name) => {
    // GIVEN the stack with the version constraint relabelled (the provider here is v5, the stack pins v6)
    const json = synthesizeJson(VARIANTS.find((v) => v.name === name)!.config);
    json.terraform.required_providers.aws.version = REAL_AWS_VERSION;
    await inSlot(async () => {
      const configDir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-real-aws-'));
      const dir = new EngineDir(json, fixture(), { cliConfig: realAwsCliConfig(configDir, json) });
      try {
        const init = await dir.init();
        expect({ code: init.code, stderr: init.stderr }).toMatchObject({ code: 0 });
        // WHEN / THEN the provider's own value checks (enums, CIDRs, conflicts) pass too
        const valid = await dir.validate();
        expect(valid.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
        expect(valid.ok).toBe(true);
      } finally {
        timings.push(...dir.timings.map((t) => ({ ...t, command: `${t.command} (real aws)` })));
        dir.remove();
        fs.rmSync(configDir, { recursive: true, force: true });
      }
    });
  }, TIMEOUT_MS);
});
