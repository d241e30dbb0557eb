/**
 * The product is what Terraform sees as a whole: every configuration variant (variants.ts) is
 * synthesized and run through the real Terraform engine — init, validate, plan, apply and plan
 * again — with the stand-in providers (standin/), offline. See the README's Development section.
 *
 * How it runs: the stand-ins start once and Terraform attaches to them (no provider start per
 * command); the variants are child modules of two root modules, so each terraform command checks
 * many stacks at once, and every test asserts on its own module's part of the result. The work is
 * a list of jobs started before the tests, each on a free lane of the stand-ins; a test waits for
 * the job it needs.
 */
import { DEPLOYMENT_ID_PATTERN, INSTANCE_TYPES, QUOTAS } from '../../src/catalog';
import { type ConfigInput, parseConfig } from '../../src/config';
import { STACK_NAME, boxAgentDocument, boxUserData } from '../../src/stack';
import { writeTerraformTests } from '../../src/terraform-tests';
import {
  concernsModule, Diagnostic, EngineDir, Lane, moduleOutputs, moduleSlice, PlanOutcome, REAL_AWS_VERSION, RealAwsProvider,
  realAwsMissingReason, SavedPlan, StandinProviders, TerraformResult, terraformMissingReason, writeModules,
} from '../support/engine';
import { synthesizeClusterJson, synthesizeJson, TerraformJson } from '../support/synth';
import { AMI_ID, AMI_PARAMETER, CLUSTER_VARIANTS, fixture, guardedQuota, Variant, VARIANTS } from './variants';

const skipReason = terraformMissingReason();
// Printed, so a run without terraform says so instead of passing silently.
if (skipReason) console.warn(`SKIPPED whole-stack engine tests: ${skipReason}`);
const engineTest = skipReason ? test.skip : test.concurrent;
const realAwsSkipReason = skipReason ?? realAwsMissingReason();
if (!skipReason && realAwsSkipReason) console.warn(`SKIPPED real AWS provider validation: ${realAwsSkipReason}`);
const realAwsTest = realAwsSkipReason ? test.skip : test.concurrent;

/** Terraform commands run at once, one per lane (each lane: its own ports and fixture file). */
const LANES = Number(process.env.ENGINE_LANES ?? 2);
/** The variants are split over this many root modules, so the lanes share the largest work. */
const VARIANT_ROOTS = 2;
const TIMEOUT_MS = 15 * 60 * 1000;

// ------------------------------------------------------------------------------ stacks
// synthesizeJson (support/synth) synthesizes each configuration once per run and parses a fresh copy
// on every call, so a test may change the stack it gets.

const variantNamed = (name: string): Variant => VARIANTS.find((v) => v.name === name)!;
const configOf = (name: string): ConfigInput => variantNamed(name).config;

/** A variant's child module name, e.g. `variant_3_boxes_on_spot`. */
const moduleOf = (variant: Variant) => `variant_${variant.name.toLowerCase().replace(/[^a-z0-9]+/g, '_').replace(/^_|_$/g, '')}`;

const remoteState = (json: TerraformJson) => Boolean(json.terraform.cloud ?? json.terraform.backend?.s3);

// ------------------------------------------------------------------------------ assertions

const regex = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/** The step, then the result, so a failure shows what Terraform said. */
function expectPlanned(step: string, plan: PlanOutcome, module?: string): void {
  const errors = module ? moduleSlice(plan, module).errors : plan.errors;
  expect({ step, errors, stderr: plan.raw.stderr }).toEqual({ step, errors: [], stderr: '' });
  expect(plan.ok).toBe(true);
}

function expectNoChanges(step: string, plan: PlanOutcome, module: string): void {
  expectPlanned(step, plan, module);
  const { changes, summary } = moduleSlice(plan, module);
  expect({ step, changes }).toEqual({ step, changes: [] });
  expect(summary).toMatchObject({ add: 0, change: 0, remove: 0 });
}

/**
 * The user data and the agent's document Terraform plans are the renderers' text byte for byte (no `${`
 * or `%{` was read as a template), and the association passes the document's own hash and the boxes' ARN prefix.
 */
function expectUserDataAsRendered(input: ConfigInput, saved: SavedPlan, module: string): void {
  const config = parseConfig(input);
  const planned = (types: string[]) => saved.resource_changes.filter((c) => c.module_address === `module.${module}` && types.includes(c.type));
  const boxes = planned(['aws_instance', 'aws_spot_instance_request']);
  expect(boxes.length).toBeGreaterThan(0);
  for (const box of boxes) expect(box.change.after.user_data).toBe(boxUserData(config).userData);
  const agent = boxAgentDocument(config);
  expect(planned(['aws_ssm_document']).map((c) => c.change.after.content)).toEqual([agent.content]);
  // The stand-ins' aws_partition and aws_caller_identity: the ARN prefix is known at plan time, like the alarms' namespaces.
  expect(planned(['aws_ssm_association']).map((c) => c.change.after.parameters)).toEqual([{
    documentHash: agent.hash, instanceArnPrefix: `arn:aws:ec2:${config.region}:123456789012:instance/`,
  }]);
}

/** The variant with new agent settings: a longer idle time and one more process pattern. */
function withNewAgentSettings(input: ConfigInput): ConfigInput {
  const patterns = input.idle?.processPatterns ?? parseConfig({}).idle.processPatterns;
  return { ...input, idle: { ...input.idle, idleMinutes: 47, processPatterns: [...patterns, 'my-trainer\\.py'] } };
}

const AGENT_TYPES = ['aws_ssm_document', 'aws_ssm_association'];

// ------------------------------------------------------------------------------ jobs

/** Seconds per terraform command over the whole suite, printed at the end (README figures). */
const timings: { command: string; seconds: number }[] = [];
/** CPU seconds of the resident providers, printed with the timings. */
const providerCpu: string[] = [];

let standins: Promise<StandinProviders> | undefined;
/** The stand-ins serve every type of every stack the jobs run; a type outside them fails loudly. */
function standinProviders(): Promise<StandinProviders> {
  standins ??= StandinProviders.start([...VARIANTS.map((v) => synthesizeJson(v.config)), synthesizeJson({ rootVolumeSizeGiB: 60 }),
    ...CLUSTER_VARIANTS.map((v) => synthesizeClusterJson(v.config))], LANES);
  return standins;
}

/** A fresh directory on a free lane for `work`, removed after it. */
async function onLane<T>(work: (dir: EngineDir, standins: StandinProviders) => Promise<T>, options: { realAws?: RealAwsProvider } = {}): Promise<T> {
  const providers = await standinProviders();
  return providers.withLane(async (lane: Lane) => {
    const dir = new EngineDir(lane, { reattach: options.realAws?.reattach });
    dir.setFixture(fixture());
    try {
      return await work(dir, providers);
    } finally {
      timings.push(...dir.timings.map((t) => ({ ...t, command: options.realAws ? `${t.command} (real aws)` : t.command })));
      dir.remove();
    }
  });
}

/** init, failing the job (and every test waiting for it) with Terraform's words. */
async function init(dir: EngineDir, options: { backend?: boolean } = {}): Promise<void> {
  const result = await dir.init(options);
  if (result.code !== 0) throw new Error(`terraform init failed (${result.code}): ${result.stderr}`);
}

const jobs = new Map<string, Promise<unknown>>();
/** The job's result, started on first use; every job is started before the first test (beforeAll). */
function job<T>(name: string, work: () => Promise<T>): Promise<T> {
  if (!jobs.has(name)) {
    const started = work();
    started.catch(() => undefined); // reported by the tests that await it
    jobs.set(name, started);
  }
  return jobs.get(name) as Promise<T>;
}

// ------------------------------------------------------------------------------ the variants' roots

interface VariantsRun {
  /** The first plan, saved: Terraform validates the configuration before it plans, and its diagnostics are in the stream. */
  readonly first: PlanOutcome;
  readonly firstSaved: SavedPlan;
  readonly applied: TerraformResult;
  readonly outputs: Record<string, unknown>;
  readonly again: PlanOutcome;
  /** The plan after a deploy that changes only the agent's settings, against a newer AMI with a larger root snapshot. */
  readonly amiGrewAndAgentSettings: PlanOutcome;
}

/** The quota each guarded variant needs one box short, grouped so no two in a group need different values of one quota. */
function quotaGroups(variants: readonly Variant[]): { quotas: Record<string, number>; members: { variant: Variant; module: string; vcpus: number }[] }[] {
  const groups: { quotas: Record<string, number>; members: { variant: Variant; module: string; vcpus: number }[] }[] = [];
  for (const variant of variants) {
    const quota = guardedQuota(variant.config);
    if (!quota) continue;
    const vcpus = quota.vcpusPerBox * ((variant.config.instanceCount ?? 1) - 1);
    let group = groups.find((g) => g.quotas[quota.code] === undefined || g.quotas[quota.code] === vcpus);
    if (!group) groups.push(group = { quotas: {}, members: [] });
    group.quotas[quota.code] = vcpus;
    group.members.push({ variant, module: moduleOf(variant), vcpus });
  }
  return groups;
}

/** The outputs of each variant the tests read after apply. */
const VARIANT_OUTPUTS = ['instance_ids', 'availability_zones', 'deployment_id'];

const variantRoots: readonly (readonly Variant[])[] = Array.from({ length: VARIANT_ROOTS }, (_, root) =>
  VARIANTS.filter((_v, i) => i % VARIANT_ROOTS === root));

/**
 * One root module of variants through the whole life cycle: init, plan (saved; it validates first),
 * apply of the saved plan, outputs, plan again, and one plan after the AMI grew and the
 * agent's settings changed (each test tells the two apart: the AMI can change nothing, the settings only the agent).
 */
function variantsRun(root: number): Promise<VariantsRun> {
  return job(`variants ${root}`, () => onLane(async (dir, providers) => {
    const variants = variantRoots[root];
    writeModules(dir, providers.stateAddress, Object.fromEntries(variants.map((v) => [moduleOf(v), synthesizeJson(v.config)])), VARIANT_OUTPUTS);
    await init(dir);
    const first = await dir.plan({ out: 'first.bin' });
    const firstSaved = await dir.show('first.bin');
    const applied = await dir.apply('first.bin');
    const outputs = await dir.outputs();
    const again = await dir.plan();
    dir.setFixture(fixture({ rootSnapshotGiB: 500 }));
    writeModules(dir, providers.stateAddress, Object.fromEntries(variants.map((v) => [moduleOf(v), synthesizeJson(withNewAgentSettings(v.config))])), VARIANT_OUTPUTS);
    const amiGrewAndAgentSettings = await dir.plan();
    dir.setFixture(fixture());
    return { first, firstSaved, applied, outputs, again, amiGrewAndAgentSettings };
  }));
}

/**
 * The plan with each guarded variant's own quota one box short, by module: a root module per group of
 * variants that can share one fixture, holding those variants only (a targeted plan in a variants' root
 * loads and validates every variant of it, at several times the cost).
 */
function shortQuotaPlans(): Promise<ReadonlyMap<string, { plan: PlanOutcome; vcpus: number }>> {
  return job('quota one box short', async () => {
    const short = new Map<string, { plan: PlanOutcome; vcpus: number }>();
    await Promise.all(quotaGroups(VARIANTS).map((group) => onLane(async (dir, providers) => {
      writeModules(dir, providers.stateAddress, Object.fromEntries(group.members.map((m) => [m.module, synthesizeJson(m.variant.config)])), []);
      await init(dir);
      dir.setFixture(fixture({ quotas: group.quotas }));
      const plan = await dir.plan();
      for (const member of group.members) short.set(member.module, { plan, vcpus: member.vcpus });
    })));
    return short;
  });
}

/** The S3 and cloud backends cannot initialise without credentials: their own file, with `-backend=false`. */
function remoteStateValidation(variant: Variant) {
  return job(`remote state ${variant.name}`, () => onLane(async (dir) => {
    dir.writeStack(synthesizeJson(variant.config));
    await init(dir, { backend: false });
    return dir.validate();
  }));
}

// ------------------------------------------------------------------------------ every variant
describe('every configuration variant on the Terraform engine', () => {
  VARIANTS.forEach((variant, index) => {
    engineTest(`${variant.name}: init, validate, plan, quota one box short, apply, plan again, newer AMI, new agent settings`, async () => {
      // GIVEN the synthesized stack of the variant, a child module of its root
      const module = moduleOf(variant);
      const run = await variantsRun(index % VARIANT_ROOTS);
      const shortPlans = await shortQuotaPlans();
      // THEN it validates (a stack with a remote backend also as its own root, backend not initialised)
      if (remoteState(synthesizeJson(variant.config))) {
        const own = await remoteStateValidation(variant);
        expect({ step: 'validate with its backend', diagnostics: own.diagnostics }).toEqual({ step: 'validate with its backend', diagnostics: [] });
        expect(own.ok).toBe(true);
      }
      // (terraform plan validates the configuration first and reports what validate would, warnings too)
      const diagnostics = run.first.diagnostics.filter((d: Diagnostic) => concernsModule(d, module));
      expect({ step: 'validate', diagnostics }).toEqual({ step: 'validate', diagnostics: [] });

      // AND it plans with roomy quotas, and Terraform reads the user data exactly as rendered
      expectPlanned('plan', run.first, module);
      expect(moduleSlice(run.first, module).summary.add).toBeGreaterThan(0);
      if (variant.checkUserData) expectUserDataAsRendered(variant.config, run.firstSaved, module);

      // AND a quota one box short fails the plan with our message
      const quota = guardedQuota(variant.config);
      expect(shortPlans.has(module)).toBe(Boolean(quota));
      if (quota) {
        const count = variant.config.instanceCount ?? 1;
        const { plan: refused, vcpus: short } = shortPlans.get(module)!;
        expect(short).toBe(quota.vcpusPerBox * (count - 1));
        expect(refused.ok).toBe(false);
        const details = [...new Set(moduleSlice(refused, module).errors.map((e) => `${e.summary}: ${e.detail}`))];
        expect(details).toEqual([expect.stringMatching(new RegExp(`^Resource precondition failed: ${regex(
          `Not enough EC2 ${quota.market} quota in us-east-2: ${count} x ${variant.config.instanceType ?? 'trn1.2xlarge'} ` +
          `needs ${quota.vcpusPerBox * count} vCPUs, but "${quota.name}" (${quota.code}) is ${short} vCPUs. Ask for more with: `)}`))]);
      }

      // WHEN it is applied
      expect({ step: 'apply', code: run.applied.code, stderr: run.applied.stderr }).toMatchObject({ code: 0, stderr: '' });
      // THEN every box has an instance id and an Availability Zone
      const outputs = moduleOutputs(run.outputs, module);
      const boxes = variant.config.instanceCount ?? 1;
      expect(outputs.instance_ids).toEqual(Array.from({ length: boxes }, () => expect.stringMatching(/^i-/)));
      expect(outputs.availability_zones).toEqual(Array.from({ length: boxes }, () => 'us-east-2c'));
      // AND Terraform gave the deployment its id, in the form `--deployment` accepts
      expect(outputs.deployment_id).toMatch(DEPLOYMENT_ID_PATTERN);

      // AND planning again changes nothing (no timestamp, ordering or read-back drift; the deployment id is kept)
      expectNoChanges('plan after apply', run.again, module);
      // AND a newer AMI with a larger root snapshot leaves the existing boxes alone, and a deploy that changes
      // only the agent's settings updates the agent and nothing else: planned together, nothing but the agent's
      // document and association (which runs a changed document at once) is updated, and nothing at all where the
      // agent is off (the agent's document is the renderer's text for the settings, which no AMI enters)
      const step = 'plan after the AMI grew, with new agent settings';
      expectPlanned(step, run.amiGrewAndAgentSettings, module);
      const { changes, summary } = moduleSlice(run.amiGrewAndAgentSettings, module);
      const changed = [...changes].sort((a, b) => a.address.localeCompare(b.address));
      const idleOn = parseConfig(variant.config).idle.enabled;
      expect({ step, changed }).toEqual({ step, changed: idleOn ? [
        { address: expect.stringMatching(/^aws_ssm_association\./), action: 'update' },
        { address: expect.stringMatching(/^aws_ssm_document\./), action: 'update' },
      ] : [] });
      expect(changed.every((c) => AGENT_TYPES.includes(c.address.split('.')[0]))).toBe(true);
      expect(summary).toMatchObject({ add: 0, change: idleOn ? 2 : 0, remove: 0 });
    }, TIMEOUT_MS);
  });
});

// ------------------------------------------------------------------------------ the auto market
const boxesOf = (plan: PlanOutcome) => plan.changes.filter((c) => /^aws_(spot_instance_request|instance)\./.test(c.address)).map((c) => c.address.split('.')[0]);

function autoMarketPlans() {
  return job('auto market', () => onLane(async (dir) => {
    dir.writeStack(synthesizeJson({ market: 'auto' }));
    await init(dir);
    const launched = async (spot: number, onDemand: number) => {
      dir.setFixture(fixture({ quotas: { 'L-6B0D517C': spot, 'L-2C3B7624': onDemand } }));
      return dir.plan();
    };
    return { spotOnly: await launched(8, 0), onDemandOnly: await launched(0, 8), both: await launched(8, 8), neither: await launched(0, 0) };
  }));
}

describe('the auto market decided on the whole stack', () => {
  engineTest('spot when its quota holds the box, else on-demand, else a plan failure naming both quotas', async () => {
    // WHEN the whole auto stack plans with each combination of quotas
    const { spotOnly, onDemandOnly, both, neither } = await autoMarketPlans();
    // THEN
    expectPlanned('auto with spot quota', spotOnly);
    expect(boxesOf(spotOnly)).toEqual(['aws_spot_instance_request']);
    expectPlanned('auto with on-demand quota', onDemandOnly);
    expect(boxesOf(onDemandOnly)).toEqual(['aws_instance']);
    expect(boxesOf(both)).toEqual(['aws_spot_instance_request']);
    expect(neither.ok).toBe(false);
    expect(neither.errors).toHaveLength(1);
    const detail = neither.errors[0].detail;
    expect(detail).toMatch(/^Neither quota holds the boxes, so market "auto" has nowhere to launch\./);
    expect(detail).toContain('"All Trn Spot Instance Requests" (L-6B0D517C) is 0 vCPUs');
    expect(detail).toContain('"Running On-Demand Trn instances" (L-2C3B7624) is 0 vCPUs');
    expect(detail).toContain('--quota-code L-6B0D517C --desired-value 8 --region us-east-2');
    expect(detail).toContain('--quota-code L-2C3B7624 --desired-value 8 --region us-east-2');
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ the root volume
const plannedRootSizes = (saved: SavedPlan) => saved.resource_changes
  .filter((c) => c.type === 'aws_spot_instance_request' || c.type === 'aws_instance')
  .map((c) => c.change.after.root_block_device[0].volume_size);

const DEFAULT_ROOT_CASES = [[45, 50], [75, 75], [null, 50]] as const;

function defaultRootVolumePlans() {
  return job('root volume, default size', () => onLane(async (dir) => {
    dir.writeStack(synthesizeJson());
    await init(dir);
    const planned: { snapshot: number | null; plan: PlanOutcome; sizes: number[] }[] = [];
    for (const [snapshot] of DEFAULT_ROOT_CASES) {
      dir.setFixture(fixture({ rootSnapshotGiB: snapshot }));
      const plan = await dir.plan({ out: 'plan.bin' });
      planned.push({ snapshot, plan, sizes: plan.ok ? plannedRootSizes(await dir.show('plan.bin')) : [] });
    }
    return planned;
  }));
}

function explicitRootVolumePlans() {
  return job('root volume, explicit size', () => onLane(async (dir) => {
    dir.writeStack(synthesizeJson({ rootVolumeSizeGiB: 60 }));
    await init(dir);
    dir.setFixture(fixture({ rootSnapshotGiB: 75 }));
    const refused = await dir.plan();
    dir.setFixture(fixture({ rootSnapshotGiB: 60 }));
    return { refused, holds: await dir.plan() };
  }));
}

describe('the root volume on the whole stack', () => {
  engineTest('a default size is 50 GiB, grows to a larger AMI snapshot, and is 50 GiB for an AMI with no root mapping', async () => {
    // WHEN the default stack plans against AMIs with a 45 GiB, a 75 GiB and no root snapshot
    const planned = await defaultRootVolumePlans();
    // THEN
    DEFAULT_ROOT_CASES.forEach(([snapshot, size], i) => {
      expectPlanned(`plan with a root snapshot of ${snapshot}`, planned[i].plan);
      expect({ snapshot, sizes: planned[i].sizes }).toEqual({ snapshot, sizes: [size] });
    });
  }, TIMEOUT_MS);

  engineTest('an explicit size below the AMI snapshot fails the plan, saying so; one that holds it plans', async () => {
    // WHEN a 60 GiB root volume plans against a 75 GiB and a 60 GiB root snapshot
    const { refused, holds } = await explicitRootVolumePlans();
    // THEN
    expect(refused.ok).toBe(false);
    expect(refused.errors.map((e) => e.detail)).toEqual([
      `rootVolumeSizeGiB is 60 GiB, but the AMI from ${AMI_PARAMETER} (${AMI_ID}) has a 75 GiB root snapshot. ` +
      'Set rootVolumeSizeGiB to at least 75, or leave it out to size the volume to the AMI automatically.',
    ]);
    expectPlanned('explicit size that holds the AMI', holds);
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ capacity blocks
function unfixedCapacityBlock() {
  return job('capacity block without the fix', () => onLane(async (dir) => {
    // the stack without the fix: the stand-in reads instance_market_options back empty, as 6.25 does
    const json = synthesizeJson(configOf('capacity-block'));
    for (const instance of Object.values(json.resource.aws_instance)) {
      instance.lifecycle.ignore_changes = instance.lifecycle.ignore_changes.filter((a: string) => a !== 'instance_market_options');
    }
    dir.writeStack(json);
    await init(dir);
    const applied = await dir.apply();
    return { applied, plan: await dir.plan() };
  }));
}

describe('a Capacity Block box after provider 6.25 reads its market options back empty', () => {
  const config: ConfigInput = configOf('capacity-block');

  engineTest('would be replaced on the next plan without ignore_changes on instance_market_options', async () => {
    // GIVEN the stack without the fix, applied
    const { applied, plan } = await unfixedCapacityBlock();
    expect({ code: applied.code, stderr: applied.stderr }).toMatchObject({ code: 0 });
    // WHEN planning against the state whose instance_market_options is now empty
    // THEN the box and its disk would be replaced: the fix in the stack is what prevents it
    expect(plan.changes.filter((c) => c.address.startsWith('aws_instance.'))).toEqual([
      { address: expect.stringMatching(/^aws_instance\..+\[0\]$/), action: 'replace' },
    ]);
  }, TIMEOUT_MS);

  test('the stack ignores it (the variant above proves No changes against the emptied state)', () => {
    const instance = Object.values(synthesizeJson(config).resource.aws_instance)[0];
    expect(instance.lifecycle.ignore_changes).toContain('instance_market_options');
  });
});

// ------------------------------------------------------------------------------ broken stacks
const spotRequest = (json: TerraformJson) => Object.values(json.resource.aws_spot_instance_request)[0];
const firstTag = (json: TerraformJson) => Object.values(json.resource.aws_ec2_tag)[0];
const BREAKAGES: [string, (json: TerraformJson) => void, RegExp][] = [
  ['an unknown attribute', (json) => { spotRequest(json).instance_flavour = 'large'; }, /Extraneous JSON object property/],
  ['a wrong type', (json) => { spotRequest(json).root_block_device.volume_size = 'fifty'; }, /Incorrect attribute value type/],
  ['a missing required argument', (json) => { delete firstTag(json).key; }, /Missing required argument/],
  ['`${` in user data', (json) => { spotRequest(json).user_data = 'PAUSE=${PAUSE_SECONDS:-15}\n'; }, /Extra characters after interpolation expression|Invalid character/],
];
const brokenModule = (i: number) => `broken_${i}`;

/** The default stack as it is, and once per breakage, all child modules of one root: one validate. */
function brokenStacksValidation() {
  return job('broken stacks', () => onLane(async (dir, providers) => {
    const stacks: Record<string, TerraformJson> = { intact: synthesizeJson() };
    BREAKAGES.forEach(([, breakIt], i) => {
      const json = synthesizeJson();
      breakIt(json);
      stacks[brokenModule(i)] = json;
    });
    writeModules(dir, providers.stateAddress, stacks, []);
    await init(dir);
    return dir.validate();
  }));
}

describe('the engine tests catch a broken stack', () => {
  engineTest.each(BREAKAGES.map(([name, , summary], i) => [name, i, summary] as const))('validate fails on %s', async (_name, i, summary) => {
    // GIVEN a stack that validates, WHEN it is broken (a sibling module of the intact one)
    const validated = await brokenStacksValidation();
    expect(validated.diagnostics.filter((d) => concernsModule(d, 'intact'))).toEqual([]);
    // THEN the engine refuses it
    expect(validated.ok).toBe(false);
    const broken = validated.diagnostics.filter((d) => concernsModule(d, brokenModule(i)));
    expect(broken.map((d) => d.summary)).toEqual([expect.stringMatching(summary)]);
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ terraform test
function terraformTestRun(name: string) {
  return job(`terraform test ${name}`, () => onLane(async (dir) => {
    // the stack and the test file the app writes beside it for this market
    dir.writeStack(synthesizeJson(configOf(name)));
    writeTerraformTests(dir.stackDir, STACK_NAME, parseConfig(configOf(name)));
    await init(dir);
    return dir.terraform(['test', '-no-color']);
  }));
}
const TERRAFORM_TEST_VARIANTS = ['defaults (spot)', 'on-demand', 'capacity-reservation, open', 'capacity-block', 'auto', '3 boxes on spot', 'own SSH key',
  'spot through RunInstances, CPU options', '2 boxes on auto through RunInstances', 'TorchNeuron image on trn2 (found by name)'];

describe('the shipped `terraform test` files, with the stand-ins supplying the schemas', () => {
  engineTest.each(TERRAFORM_TEST_VARIANTS)('%s: every run passes', async (name) => {
    // WHEN
    const run = await terraformTestRun(name);
    // THEN
    expect({ code: run.code, stderr: run.stderr, stdout: run.stdout }).toMatchObject({ code: 0, stderr: '' });
    expect(run.stdout).toMatch(/^Success! [1-9]\d* passed, 0 failed\.$/m);
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ the real AWS provider
const REAL_AWS_VARIANTS = ['defaults (spot)', 'capacity-block', 'SSH CIDRs and e-mail notice', 'explicit root volume, CPU options, on-demand',
  'spot through RunInstances, CPU options', '2 boxes on auto through RunInstances', 'data volumes on 2 boxes on auto'];
const realAwsModule = (name: string) => moduleOf(variantNamed(name));

/** The stacks, the version constraint relabelled (the provider here is v5, the stacks pin v6), as child modules of one root. */
function realAwsValidation() {
  return job('real aws', async () => {
    const realAws = await RealAwsProvider.start();
    try {
      return await onLane(async (dir, providers) => {
        writeModules(dir, providers.stateAddress, Object.fromEntries(REAL_AWS_VARIANTS.map((name) => {
          const json = synthesizeJson(configOf(name));
          json.terraform.required_providers.aws.version = REAL_AWS_VERSION;
          return [realAwsModule(name), json];
        })), []);
        await init(dir);
        return dir.validate();
      }, { realAws });
    } finally {
      const used = await realAws.stop();
      if (used !== undefined) providerCpu.push(`real AWS provider process: ${used.toFixed(1)} CPU-s`);
    }
  });
}

describe(`terraform validate with the real AWS provider ${REAL_AWS_VERSION}, where installed`, () => {
  realAwsTest.each(REAL_AWS_VARIANTS)('%s validates', async (name) => {
    // WHEN the stack is validated with the real provider
    const valid = await realAwsValidation();
    // THEN the provider's own value checks (enums, CIDRs, conflicts) pass too
    expect(valid.diagnostics.filter((d) => d.severity === 'error' && concernsModule(d, realAwsModule(name)))).toEqual([]);
    expect(valid.ok).toBe(true);
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ the cluster stack
const CLUSTER_OUTPUTS = ['launch_template_name', 'head_instance_id'];
const spotCluster = CLUSTER_VARIANTS.find((v) => v.config.cluster?.market === undefined)!;

/** Every cluster variant as a child module of one root: init, plan (it validates first), the spot quota one node short, apply, plan again. */
function clusterRun() {
  return job('cluster stacks', () => onLane(async (dir, providers) => {
    writeModules(dir, providers.stateAddress, Object.fromEntries(CLUSTER_VARIANTS.map((v) => [moduleOf(v), synthesizeClusterJson(v.config)])), CLUSTER_OUTPUTS);
    await init(dir);
    const first = await dir.plan({ out: 'first.bin' });
    const firstSaved = await dir.show('first.bin');
    const spotNodes = spotCluster.config.cluster!.nodes!;
    dir.setFixture(fixture({ quotas: { [QUOTAS.trn.spot.code]: 128 * (spotNodes - 1) } }));
    const short = await dir.plan({ targets: [`module.${moduleOf(spotCluster)}`] });
    dir.setFixture(fixture());
    const applied = await dir.apply('first.bin');
    const outputs = await dir.outputs();
    const again = await dir.plan();
    return { first, firstSaved, short, applied, outputs, again };
  }));
}

describe('the cluster stack (trainium-spot-cluster) on the Terraform engine', () => {
  CLUSTER_VARIANTS.forEach((variant) => {
    engineTest(`${variant.name}: init, validate, plan, apply, plan again`, async () => {
      // GIVEN the cluster stack of the variant
      const module = moduleOf(variant);
      const run = await clusterRun();
      const cluster = parseConfig(variant.config).cluster!;
      // THEN it validates and plans
      // (terraform plan validates the configuration first and reports what validate would, warnings too)
      expect({ step: 'validate', diagnostics: run.first.diagnostics.filter((d: Diagnostic) => concernsModule(d, module)) })
        .toEqual({ step: 'validate', diagnostics: [] });
      expectPlanned('plan', run.first, module);
      // AND Terraform creates no compute node: only the head is an instance; the nodes are a launch template
      const planned = (type: string) => run.firstSaved.resource_changes.filter((c) => c.module_address === `module.${module}` && c.type === type);
      expect(planned('aws_instance')).toHaveLength(1);
      const [template] = planned('aws_launch_template').map((c) => c.change.after);
      expect(template.name).toBe('trainium-spot-nodes');
      expect(template.network_interfaces).toHaveLength(INSTANCE_TYPES[cluster.instanceType].efaNetworkCards!);
      expect(template.network_interfaces.map((n: { interface_type: string }) => n.interface_type))
        .toEqual(['efa', ...Array(INSTANCE_TYPES[cluster.instanceType].efaNetworkCards! - 1).fill('efa-only')]);
      expect(template.metadata_options[0]).toMatchObject({ http_tokens: 'required', instance_metadata_tags: 'enabled' });
      // AND a cluster placement group, except in a Capacity Block, which brings its own placement
      expect(planned('aws_placement_group')).toHaveLength(cluster.market === 'capacity-block' ? 0 : 1);
      expect(template.placement.length).toBe(cluster.market === 'capacity-block' ? 0 : 1);
      // WHEN it is applied THEN it has a launch template by its known name, and planning again changes nothing
      expect({ step: 'apply', code: run.applied.code, stderr: run.applied.stderr }).toMatchObject({ code: 0, stderr: '' });
      expect(moduleOutputs(run.outputs, module).launch_template_name).toBe('trainium-spot-nodes');
      expectNoChanges('plan after apply', run.again, module);
    }, TIMEOUT_MS);
  });

  engineTest('a spot quota one node short fails the plan with the message and the increase command', async () => {
    const run = await clusterRun();
    const nodes = spotCluster.config.cluster!.nodes!;
    expect(run.short.ok).toBe(false);
    const details = [...new Set(moduleSlice(run.short, moduleOf(spotCluster)).errors.map((e) => e.detail))];
    expect(details).toEqual([expect.stringMatching(new RegExp(`^${regex(
      `Not enough EC2 spot quota in us-east-2: ${nodes} x trn1.32xlarge needs ${128 * nodes} vCPUs, but "${QUOTAS.trn.spot.name}" ` +
      `(${QUOTAS.trn.spot.code}) is ${128 * (nodes - 1)} vCPUs. Ask for more with: `)}`))]);
  }, TIMEOUT_MS);
});

// ------------------------------------------------------------------------------ start and stop
beforeAll(() => {
  if (skipReason) return;
  // Largest first, so both lanes start on the variants' roots and share the rest.
  variantRoots.forEach((_, root) => variantsRun(root));
  shortQuotaPlans();
  clusterRun();
  if (!realAwsSkipReason) realAwsValidation();
  VARIANTS.filter((v) => remoteState(synthesizeJson(v.config))).forEach(remoteStateValidation);
  autoMarketPlans();
  defaultRootVolumePlans();
  explicitRootVolumePlans();
  unfixedCapacityBlock();
  brokenStacksValidation();
  TERRAFORM_TEST_VARIANTS.forEach(terraformTestRun);
});

afterAll(async () => {
  await Promise.allSettled(jobs.values());
  const used = await (await standins?.catch(() => undefined))?.stop();
  if (used !== undefined) providerCpu.push(`stand-in providers process: ${used.toFixed(1)} CPU-s`);
  if (timings.length === 0) return;
  const byCommand = new Map<string, number[]>();
  for (const t of timings) byCommand.set(t.command, [...(byCommand.get(t.command) ?? []), t.seconds]);
  const lines = [...byCommand].map(([command, s]) => {
    const sorted = [...s].sort((a, b) => a - b);
    return `${command}: ${s.length} runs, median ${sorted[Math.floor(sorted.length / 2)].toFixed(1)} s, max ${sorted[sorted.length - 1].toFixed(1)} s`;
  });
  console.log(`terraform engine timings (stand-in providers)\n${[...lines, ...providerCpu].join('\n')}`);
}, TIMEOUT_MS);

// ------------------------------------------------------------------------------ what replaces a running box
// The stand-ins plan a replacement where the providers' schemas force one (standin/force-new.cjs,
// from the provider source). A few stacks are applied once, as child modules of one root, then
// each change below is planned against that state: a key or a price cap must leave the boxes alone;
// a new instance type, Availability Zone or launch path is a new box.

const REPLACEMENT_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIDJTkzjSVu7OL1nBNH1wcvaM5u7x3g3F0cT2xjBqfUf9';
const REPLACEMENT_KEYS = {
  laptop: `${REPLACEMENT_KEY} me@laptop`,
  recommented: `${REPLACEMENT_KEY} me@desktop`,
  rotated: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIPq1Tn4fYb2t8h1rQ0Kc9Zl3sX7mW5vE2uJ6dR4yN8aB me@laptop',
};

/** The applied stacks by module: both launch paths, on trn1 (one AZ in us-east-2) and on inf2 (three AZs). */
const REPLACEMENT_BASES: Readonly<Record<string, ConfigInput>> = {
  request: {},
  run_instances: { spotLaunch: 'run-instances', spotMaxPricePerHour: 0.9 },
  request_inf2: { instanceType: 'inf2.xlarge', sshPublicKey: REPLACEMENT_KEYS.laptop },
  run_instances_inf2: { instanceType: 'inf2.xlarge', spotLaunch: 'run-instances', sshPublicKey: REPLACEMENT_KEYS.laptop },
};

/** Each change, by module, planned on its own against the applied bases. */
const REPLACEMENT_STEPS = {
  // set where the key was generated, a new comment, a new key
  key: {
    request: { sshPublicKey: REPLACEMENT_KEYS.laptop }, run_instances: { sshPublicKey: REPLACEMENT_KEYS.laptop },
    request_inf2: { sshPublicKey: REPLACEMENT_KEYS.recommented }, run_instances_inf2: { sshPublicKey: REPLACEMENT_KEYS.rotated },
  },
  // set where there was none (request, inf2), changed (run_instances)
  price: {
    request: { spotMaxPricePerHour: 0.5 }, run_instances: { spotMaxPricePerHour: 0.5 },
    request_inf2: { spotMaxPricePerHour: 0.5 }, run_instances_inf2: { spotMaxPricePerHour: 0.5 },
  },
  type: { request: { instanceType: 'trn1.32xlarge' }, run_instances: { instanceType: 'trn1.32xlarge' } },
  // inf2.xlarge defaults to the first of its AZs in us-east-2, use2-az1
  zone: { request_inf2: { availabilityZoneId: 'use2-az2' }, run_instances_inf2: { availabilityZoneId: 'use2-az2' } },
  launchPath: { request: { spotLaunch: 'run-instances' }, run_instances: { spotLaunch: 'spot-request' } },
} satisfies Record<string, Record<string, ConfigInput>>;
type ReplacementStep = keyof typeof REPLACEMENT_STEPS;

/**
 * The stack as it was before deployment ids and the agent (the last version whose boxes got their software from
 * user data): no terraform_data for the id, no deployment tag, no output, a RunInstances box tagged with its Name
 * alone, and no SSM document or association (the agent targets the deployment tag).
 */
function withoutDeploymentIds(json: TerraformJson): TerraformJson {
  delete json.resource.aws_ssm_document;
  delete json.resource.aws_ssm_association;
  for (const name of Object.keys(json.resource.terraform_data ?? {})) {
    if (name.startsWith('deployment_id_')) delete json.resource.terraform_data[name];
  }
  // A resource type with no block left is not valid Terraform JSON.
  if (Object.keys(json.resource.terraform_data ?? {}).length === 0) delete json.resource.terraform_data;
  for (const [name, tag] of Object.entries(json.resource.aws_ec2_tag ?? {})) {
    if (tag.key === 'trainium-spot:deployment') delete json.resource.aws_ec2_tag[name];
  }
  for (const instance of Object.values(json.resource.aws_instance ?? {})) instance.tags = { Name: instance.tags.Name };
  delete json.output.deployment_id;
  return json;
}

/** What the stack keeps at creation for a key and a price cap; taken away to show what it prevents. */
const KEY_AND_PRICE_FIX = ['key_name', 'spot_price', 'instance_market_options[0].spot_options[0].max_price'];

function replacementStacks(change: Record<string, ConfigInput> = {}, options: { withoutFix?: boolean; beforeDeploymentIds?: boolean } = {}): Record<string, TerraformJson> {
  return Object.fromEntries(Object.entries(REPLACEMENT_BASES).map(([module, base]) => {
    const synthesized = synthesizeJson({ ...base, ...change[module] });
    const json = options.beforeDeploymentIds ? withoutDeploymentIds(synthesized) : synthesized;
    for (const type of options.withoutFix ? ['aws_instance', 'aws_spot_instance_request'] : []) {
      for (const box of Object.values(json.resource[type] ?? {})) {
        box.lifecycle.ignore_changes = box.lifecycle.ignore_changes.filter((a: string) => !KEY_AND_PRICE_FIX.includes(a));
      }
    }
    return [module, json];
  }));
}

interface ReplacementRun {
  /** The stacks as they were before deployment ids, applied; then the plan of the stacks as they are now. */
  readonly appliedBeforeDeploymentIds: TerraformResult;
  readonly deploymentIds: PlanOutcome;
  readonly applied: TerraformResult;
  readonly plans: Record<ReplacementStep | 'keyAndPriceWithoutFix', PlanOutcome>;
  /** The saved plan of the instance type change, for its replace paths. */
  readonly typeSaved: SavedPlan;
}

function replacementPlans(): Promise<ReplacementRun> {
  return job('replacement: apply, then plan each change', () => onLane(async (dir, providers) => {
    const write = (stacks: Record<string, TerraformJson>) => writeModules(dir, providers.stateAddress, stacks, []);
    write(replacementStacks({}, { beforeDeploymentIds: true }));
    await init(dir);
    const appliedBeforeDeploymentIds = await dir.apply();
    write(replacementStacks());
    const deploymentIds = await dir.plan({ out: 'deployment-ids.bin' });
    const applied = await dir.apply('deployment-ids.bin');
    const plans = {} as Record<ReplacementStep | 'keyAndPriceWithoutFix', PlanOutcome>;
    // The instance type changes only the trn1 modules and the AZ only the inf2 ones: one plan holds both, each module's
    // part of it what a plan of its own change alone would be (the modules share nothing).
    for (const [step, change] of Object.entries(REPLACEMENT_STEPS)) {
      if (step === 'zone') continue;
      write(replacementStacks(step === 'type' ? { ...change, ...REPLACEMENT_STEPS.zone } : change));
      plans[step as ReplacementStep] = await dir.plan(step === 'type' ? { out: 'type.bin' } : {});
    }
    plans.zone = plans.type;
    const typeSaved = await dir.show('type.bin');
    const keyAndPrice = Object.fromEntries(Object.keys(REPLACEMENT_BASES).map((m) => [m, { ...REPLACEMENT_STEPS.key[m as keyof typeof REPLACEMENT_STEPS.key], ...REPLACEMENT_STEPS.price[m as keyof typeof REPLACEMENT_STEPS.price] }]));
    write(replacementStacks(keyAndPrice, { withoutFix: true }));
    plans.keyAndPriceWithoutFix = await dir.plan();
    return { appliedBeforeDeploymentIds, deploymentIds, applied, plans, typeSaved };
  }));
}

/** The planned actions on a module's boxes, as `<type> <action>`, sorted. */
const boxActions = (plan: PlanOutcome, module: string) => moduleSlice(plan, module).changes
  .filter((c) => /^aws_(spot_instance_request|instance)\./.test(c.address))
  .map((c) => `${c.address.split('.')[0]} ${c.action}`).sort();
const actionsOn = (plan: PlanOutcome, module: string, type: string) =>
  moduleSlice(plan, module).changes.filter((c) => c.address.startsWith(`${type}.`)).map((c) => c.action);

describe('what replaces a running box, planned against an applied stack', () => {
  const modules = Object.keys(REPLACEMENT_BASES);
  const SPOT_REQUEST = ['aws_spot_instance_request replace'];
  const RUN_INSTANCES = ['aws_instance replace'];
  const replacedBox = (module: string) => (module.startsWith('request') ? SPOT_REQUEST : RUN_INSTANCES);

  engineTest('deployment ids reach boxes deployed before them in place: a new id and a new tag, no box replaced', async () => {
    // GIVEN the stacks as they were before deployment ids, applied
    const { appliedBeforeDeploymentIds, deploymentIds } = await replacementPlans();
    expect({ step: 'apply', code: appliedBeforeDeploymentIds.code, stderr: appliedBeforeDeploymentIds.stderr }).toMatchObject({ code: 0, stderr: '' });
    for (const module of modules) {
      // WHEN the stack with deployment ids is planned against them
      expectPlanned(`deployment ids, ${module}`, deploymentIds, module);
      const changes = moduleSlice(deploymentIds, module).changes.map((c) => `${c.address.split('.')[0]} ${c.action}`).sort();
      // THEN the id is created, and the boxes get its tag: a new aws_ec2_tag after the others on the spot request
      // path, an update of the instance's tags (the agent's tag with it) through RunInstances; nothing is replaced
      // (and the agent's document and association are new)
      expect({ module, changes }).toEqual({ module, changes: module.startsWith('request')
        ? ['aws_ec2_tag create', 'aws_ssm_association create', 'aws_ssm_document create', 'terraform_data create']
        : ['aws_instance update', 'aws_ssm_association create', 'aws_ssm_document create', 'terraform_data create'] });
    }
  }, TIMEOUT_MS);

  engineTest('a new key / a new price keeps the box: set, re-commented or rotated SSH key, set or changed price cap', async () => {
    // GIVEN the applied stacks
    const { applied, plans } = await replacementPlans();
    expect({ step: 'apply', code: applied.code, stderr: applied.stderr }).toMatchObject({ code: 0, stderr: '' });
    for (const module of modules) {
      // WHEN the SSH key changes THEN the key pair is replaced, and no box is updated or replaced
      expectPlanned(`a new key, ${module}`, plans.key, module);
      expect({ module, key: actionsOn(plans.key, module, 'aws_key_pair') }).toEqual({ module, key: ['replace'] });
      expect({ module, boxes: boxActions(plans.key, module) }).toEqual({ module, boxes: [] });
      // WHEN the price cap is set or changed THEN nothing changes at all (it applies to boxes created later)
      expectNoChanges(`a new price cap, ${module}`, plans.price, module);
    }
  }, TIMEOUT_MS);

  engineTest('without the key name and price cap kept at creation, the same changes would replace every box', async () => {
    // GIVEN the stacks without that part of ignore_changes, WHEN the key and the price cap change
    const { plans } = await replacementPlans();
    // THEN the stand-ins plan what the provider would: every box replaced (key_name, spot_price, max_price force a new one)
    for (const module of modules) {
      expectPlanned(`key and price without the fix, ${module}`, plans.keyAndPriceWithoutFix, module);
      expect({ module, boxes: boxActions(plans.keyAndPriceWithoutFix, module) }).toEqual({ module, boxes: replacedBox(module) });
    }
  }, TIMEOUT_MS);

  engineTest('a new instance type replaces it: a spot request always; through RunInstances because of the CPU options the stack sets', async () => {
    // WHEN trn1.2xlarge becomes trn1.32xlarge
    const { plans, typeSaved } = await replacementPlans();
    // THEN the spot request is replaced (every argument of it forces a new one)
    expectPlanned('a new instance type', plans.type);
    expect(boxActions(plans.type, 'request')).toEqual(SPOT_REQUEST);
    // AND the RunInstances box too: the provider changes instance_type in place (stop, modify,
    // start), but the stack sets cpu_options from the type's defaults (4 cores -> 64), and
    // cpu_options.core_count forces a new instance
    expect(boxActions(plans.type, 'run_instances')).toEqual(RUN_INSTANCES);
    const instance = typeSaved.resource_changes.find((c) => c.module_address === 'module.run_instances' && c.type === 'aws_instance') as
      SavedPlan['resource_changes'][number] & { change: { replace_paths?: unknown[] } };
    expect(instance.change.actions).toEqual(['delete', 'create']);
    expect(instance.change.replace_paths).toEqual([['cpu_options', 0, 'core_count']]);
  }, TIMEOUT_MS);

  engineTest('a different Availability Zone replaces the box on both launch paths (a new subnet, and subnet_id forces a new box)', async () => {
    // WHEN the AZ ID of an inf2 stack changes
    const { plans } = await replacementPlans();
    // THEN
    for (const module of ['request_inf2', 'run_instances_inf2']) {
      expectPlanned(`a new AZ, ${module}`, plans.zone, module);
      expect({ module, subnet: actionsOn(plans.zone, module, 'aws_subnet') }).toEqual({ module, subnet: ['replace'] });
      expect({ module, boxes: boxActions(plans.zone, module) }).toEqual({ module, boxes: replacedBox(module) });
    }
  }, TIMEOUT_MS);

  engineTest('the other launch path is a new box: the spot request goes and an instance comes, and back', async () => {
    // WHEN spotLaunch changes
    const { plans } = await replacementPlans();
    // THEN
    expectPlanned('the other launch path', plans.launchPath);
    expect(boxActions(plans.launchPath, 'request')).toEqual(['aws_instance create', 'aws_spot_instance_request delete']);
    expect(boxActions(plans.launchPath, 'run_instances')).toEqual(['aws_instance delete', 'aws_spot_instance_request create']);
  }, TIMEOUT_MS);
});

beforeAll(() => {
  if (!skipReason) replacementPlans();
});

// ------------------------------------------------------------------------------ the data volume outlives its box
// Stacks with a data volume, applied once as child modules of one root; then each change is planned against that
// state. Whatever replaces the box (its type, `auto`'s other market) leaves the volume alone and moves only its
// attachment; a new AZ fails the plan with the guard's line, unless a snapshot goes with it.

const VOLUME = { sizeGiB: 500 };
const VOLUME_SNAPSHOT = 'snap-0123456789abcdef0';
/** The applied stacks by module: both spot launch paths and `auto` on trn1 (one AZ in us-east-2), and inf2 (three). */
const VOLUME_BASES: Readonly<Record<string, ConfigInput>> = {
  request: { dataVolume: VOLUME },
  run_instances: { spotLaunch: 'run-instances', dataVolume: VOLUME },
  auto: { market: 'auto', dataVolume: VOLUME },
  inf2: { instanceType: 'inf2.xlarge', dataVolume: VOLUME },
};
const volumeStacks = (change: Record<string, ConfigInput> = {}) =>
  Object.fromEntries(Object.entries(VOLUME_BASES).map(([module, base]) => [module, synthesizeJson({ ...base, ...change[module] })]));

interface VolumeRun {
  readonly applied: TerraformResult;
  /** trn1.2xlarge becomes trn1.32xlarge on both launch paths (saved, for the attachments' planned values). */
  readonly type: PlanOutcome;
  readonly typeSaved: SavedPlan;
  /** `auto` after its spot quota went: the box moves to on-demand. */
  readonly otherMarket: PlanOutcome;
  /** inf2.xlarge to another AZ ID, as it is, without the stack's guard, and with a snapshot for the new volume. */
  readonly zone: PlanOutcome;
  readonly zoneWithoutGuard: PlanOutcome;
  readonly zoneWithSnapshot: PlanOutcome;
}

function dataVolumePlans(): Promise<VolumeRun> {
  return job('data volume: apply, then plan each change', () => onLane(async (dir, providers) => {
    const write = (change: Record<string, ConfigInput> = {}) => writeModules(dir, providers.stateAddress, volumeStacks(change), []);
    write();
    await init(dir);
    const applied = await dir.apply();
    write({ request: { instanceType: 'trn1.32xlarge' }, run_instances: { instanceType: 'trn1.32xlarge' } });
    const type = await dir.plan({ out: 'type.bin' });
    const typeSaved = await dir.show('type.bin');
    write();
    dir.setFixture(fixture({ quotas: { 'L-6B0D517C': 0 } }));
    const otherMarket = await dir.plan({ targets: ['module.auto'] });
    dir.setFixture(fixture());
    // inf2.xlarge defaults to the first of its AZs in us-east-2, use2-az1
    write({ inf2: { availabilityZoneId: 'use2-az2' } });
    const zone = await dir.plan({ targets: ['module.inf2'] });
    const unguarded = volumeStacks({ inf2: { availabilityZoneId: 'use2-az2' } });
    for (const volume of Object.values(unguarded.inf2.resource.aws_ebs_volume)) delete volume.lifecycle;
    writeModules(dir, providers.stateAddress, unguarded, []);
    const zoneWithoutGuard = await dir.plan({ targets: ['module.inf2'] });
    write({ inf2: { availabilityZoneId: 'use2-az2', dataVolume: { ...VOLUME, snapshotId: VOLUME_SNAPSHOT } } });
    const zoneWithSnapshot = await dir.plan({ targets: ['module.inf2'] });
    return { applied, type, typeSaved, otherMarket, zone, zoneWithoutGuard, zoneWithSnapshot };
  }));
}

describe('the data volume outlives its box, planned against an applied stack', () => {
  const volumeActions = (plan: PlanOutcome, module: string) => ({
    module,
    boxes: boxActions(plan, module),
    volume: actionsOn(plan, module, 'aws_ebs_volume'),
    attachment: actionsOn(plan, module, 'aws_volume_attachment'),
  });

  engineTest('a new instance type replaces the box on both launch paths; the volume stays, its attachment follows the new box', async () => {
    // GIVEN the applied stacks
    const { applied, type, typeSaved } = await dataVolumePlans();
    expect({ step: 'apply', code: applied.code, stderr: applied.stderr }).toMatchObject({ code: 0, stderr: '' });
    // WHEN trn1.2xlarge becomes trn1.32xlarge
    expectPlanned('a new instance type', type);
    // THEN the box is replaced, the volume neither replaced nor destroyed (nor changed), the attachment replaced
    expect(volumeActions(type, 'request')).toEqual({ module: 'request', boxes: ['aws_spot_instance_request replace'], volume: [], attachment: ['replace'] });
    expect(volumeActions(type, 'run_instances')).toEqual({ module: 'run_instances', boxes: ['aws_instance replace'], volume: [], attachment: ['replace'] });
    // AND the new attachment takes the same volume to the new box (its instance id known only once the box exists)
    for (const module of ['request', 'run_instances']) {
      const attachment = typeSaved.resource_changes.find((c) => c.module_address === `module.${module}` && c.type === 'aws_volume_attachment') as
        SavedPlan['resource_changes'][number] & { change: { before: any; after_unknown: any; replace_paths?: unknown[] } };
      expect({ module, actions: attachment.change.actions }).toEqual({ module, actions: ['delete', 'create'] });
      expect(attachment.change.after.volume_id).toMatch(/^vol-[0-9a-f]+$/);
      expect(attachment.change.after.volume_id).toBe(attachment.change.before.volume_id);
      expect(attachment.change.after_unknown.instance_id).toBe(true);
      expect(attachment.change.replace_paths).toEqual([['instance_id']]);
    }
    // AND the stacks that did not change plan nothing
    expectNoChanges('unchanged auto stack', type, 'auto');
    expectNoChanges('unchanged inf2 stack', type, 'inf2');
  }, TIMEOUT_MS);

  engineTest("auto's other market is a new box, and the same volume is attached to it", async () => {
    // WHEN the spot quota is gone after the box launched on spot
    const { otherMarket } = await dataVolumePlans();
    // THEN the spot request goes, an on-demand instance comes, the volume stays and its attachment follows
    expectPlanned('auto on the other market', otherMarket, 'auto');
    expect(volumeActions(otherMarket, 'auto')).toEqual({
      module: 'auto', boxes: ['aws_instance create', 'aws_spot_instance_request delete'], volume: [], attachment: ['replace'],
    });
  }, TIMEOUT_MS);

  engineTest('a new Availability Zone fails the plan with one line that says how to move the data', async () => {
    // WHEN the AZ ID changes under the volume
    const { zone } = await dataVolumePlans();
    // THEN
    expect(zone.ok).toBe(false);
    expect(moduleSlice(zone, 'inf2').errors.map((e) => `${e.summary}: ${e.detail}`)).toEqual([
      'Resource precondition failed: dataVolume: the boxes would move from AZ ID use2-az1 to use2-az2, and an EBS volume cannot ' +
      'leave its Availability Zone. To move the data, snapshot each volume (aws ec2 create-snapshot --region us-east-2 --volume-id ' +
      '<id>; the ids: terraform output data_volume_ids), then plan again with dataVolume.snapshotId set to the snapshot: the new ' +
      'volumes in use2-az2 start from it. To keep the data, keep AZ ID use2-az1.',
    ]);
  }, TIMEOUT_MS);

  engineTest('without the guard, the same AZ change would replace the volume, and its data with it', async () => {
    // GIVEN the stack without the volume's precondition, WHEN the AZ ID changes
    const { zoneWithoutGuard } = await dataVolumePlans();
    // THEN the stand-in plans what the provider would: availability_zone forces a new, empty volume
    expectPlanned('a new AZ without the guard', zoneWithoutGuard, 'inf2');
    expect(volumeActions(zoneWithoutGuard, 'inf2')).toMatchObject({ volume: ['replace'], attachment: ['replace'] });
  }, TIMEOUT_MS);

  engineTest('the way the line gives, a snapshot with the new AZ, plans: new volumes from the snapshot, the old ones go with a final snapshot', async () => {
    // WHEN the AZ ID changes together with dataVolume.snapshotId
    const { zoneWithSnapshot } = await dataVolumePlans();
    // THEN
    expectPlanned('a new AZ with a snapshot', zoneWithSnapshot, 'inf2');
    expect(volumeActions(zoneWithSnapshot, 'inf2')).toEqual({
      module: 'inf2', boxes: ['aws_spot_instance_request replace'], volume: ['replace'], attachment: ['replace'],
    });
    expect(actionsOn(zoneWithSnapshot, 'inf2', 'terraform_data').sort()).toEqual(['replace']);
  }, TIMEOUT_MS);
});

beforeAll(() => {
  if (!skipReason) dataVolumePlans();
});
