/**
 * The plan-time guards on Terraform's real engine: the synthesized conditions, messages and locals,
 * with the data sources they read replaced by variables (see support/terraform.ts).
 */
import { DataBinding, localsFor, plan, terraformMissingReason, bindData } from '../support/terraform';
import { synthesizeJson, TerraformJson } from '../support/synth';
import { IMAGE_PRESETS, INSTANCE_TYPES, ImagePreset } from '../../src/catalog';
import { ConfigInput } from '../../src/config';

const skipReason = terraformMissingReason();
if (skipReason) {
  // Printed, so a run without terraform says so instead of passing silently.
  console.warn(`SKIPPED engine tests: ${skipReason}`);
}
const engine = skipReason ? describe.skip : describe;

const QUOTA: DataBinding = { type: 'aws_servicequotas_service_quota', variable: 'quota' };
const AMI: DataBinding = { type: 'aws_ami', variable: 'ami' };

const spotRequest = (json: TerraformJson) => Object.values(json.resource.aws_spot_instance_request)[0];

/** A harness whose one resource carries the given preconditions. */
function guardHarness(json: TerraformJson, preconditions: { condition: string; error_message: string }[], bindings: DataBinding[]) {
  const bound = preconditions.map((p) => ({
    condition: bindData(p.condition, bindings),
    error_message: bindData(p.error_message, bindings),
  }));
  return {
    variable: {
      quota: { type: 'any', default: { value: 0 } },
      ami: { type: 'any', default: amiWithRootSnapshot(8) },
    },
    locals: localsFor(bound.flatMap((p) => [p.condition, p.error_message]), json.locals ?? {}, bindings),
    resource: { terraform_data: { guard: { input: 1, lifecycle: { precondition: bound } } } },
  };
}

/** An AMI name as AWS gives a preset's image: its name prefix and a build date. */
const amiNameOf = (preset: ImagePreset) => `${preset.amiNamePrefix} 20260707`;

/** What `data.aws_ami` returns for an image with a root snapshot of this size (the default preset's image). */
function amiWithRootSnapshot(sizeGiB: number, name = amiNameOf(IMAGE_PRESETS['pytorch-2.9']), architecture = 'x86_64') {
  return {
    id: 'ami-0123456789abcdef0',
    name,
    architecture,
    root_device_name: '/dev/sda1',
    block_device_mappings: [
      { device_name: '/dev/sda1', ebs: { volume_size: String(sizeGiB), volume_type: 'gp3' } },
      { device_name: '/dev/sdb', ebs: {} },
    ],
  };
}

engine('the spot quota guard on terraform plan', () => {
  const json = synthesizeJson();
  const [quotaGuard] = spotRequest(json).lifecycle.precondition;
  const harness = guardHarness(json, [quotaGuard], [QUOTA]);

  test.each([4, 7])('fails the plan when the quota is %i vCPUs, with our message', (quota) => {
    // WHEN
    const result = plan(harness, { quota: { value: quota } });
    // THEN
    expect(result.ok).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0].summary).toBe('Resource precondition failed');
    expect(result.errors[0].detail).toBe(
      'Not enough EC2 spot quota in us-east-2: 1 x trn1.2xlarge needs 8 vCPUs, but ' +
      `"All Trn Spot Instance Requests" (L-6B0D517C) is ${quota} vCPUs. Ask for more with: ` +
      'aws service-quotas request-service-quota-increase --service-code ec2 --quota-code L-6B0D517C ' +
      '--desired-value 8 --region us-east-2 -- approval usually takes hours to a business day; ' +
      '`npx trainium-spot quota` also shows what is in use.');
  });

  test.each([8, 9])('lets the plan through when the quota is %i vCPUs', (quota) => {
    const result = plan(harness, { quota: { value: quota } });
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
    expect(result.creates).toEqual(['terraform_data.guard']);
  });

  test('counts every box: 3 boxes need 24 vCPUs', () => {
    const three = synthesizeJson({ instanceCount: 3 });
    const threeHarness = guardHarness(three, [spotRequest(three).lifecycle.precondition[0]], [QUOTA]);
    expect(plan(threeHarness, { quota: { value: 23 } }).ok).toBe(false);
    expect(plan(threeHarness, { quota: { value: 24 } }).ok).toBe(true);
  });
});

engine('the root volume on terraform plan', () => {
  /** The planned root volume size of the default config, for an AMI with this snapshot. */
  function plannedRootSize(snapshotGiB: number): unknown {
    const json = synthesizeJson();
    const size = bindData(String(spotRequest(json).root_block_device.volume_size), [AMI]);
    return plan({
      variable: { ami: { type: 'any', default: amiWithRootSnapshot(snapshotGiB) } },
      locals: localsFor([size], json.locals ?? {}, [AMI]),
      output: { root_volume_size_gib: { value: size } },
    }).outputs.root_volume_size_gib;
  }

  test('a default size is the seed 50 GiB when the AMI is smaller', () => {
    expect(plannedRootSize(45)).toBe(50);
  });

  test('a default size grows to the AMI snapshot when that is larger', () => {
    expect(plannedRootSize(75)).toBe(75);
  });

  test('an explicit size below the AMI snapshot fails the plan, saying so', () => {
    // GIVEN
    const json = synthesizeJson({ rootVolumeSizeGiB: 60 });
    const harness = guardHarness(json, spotRequest(json).lifecycle.precondition.slice(1), [AMI]);
    harness.variable.ami.default = amiWithRootSnapshot(75);
    // WHEN
    const result = plan(harness);
    // THEN
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => e.detail)).toEqual([
      'rootVolumeSizeGiB is 60 GiB, but the AMI from /aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id ' +
      '(ami-0123456789abcdef0) has a 75 GiB root snapshot. Set rootVolumeSizeGiB to at least 75, ' +
      'or leave it out to size the volume to the AMI automatically.',
    ]);
  });

  test('an explicit size that holds the AMI plans', () => {
    const json = synthesizeJson({ rootVolumeSizeGiB: 80 });
    const harness = guardHarness(json, spotRequest(json).lifecycle.precondition.slice(1), [AMI]);
    harness.variable.ami.default = amiWithRootSnapshot(75);
    expect(plan(harness).ok).toBe(true);
  });
});

engine('the machine image guards on terraform plan', () => {
  /** A harness with every launch guard but the quota's, reading the AMI from a variable. */
  function imageHarness(input: ConfigInput, ami: object) {
    const json = synthesizeJson({ market: 'on-demand', ...input });
    const instance = Object.values(json.resource.aws_instance)[0];
    const harness = guardHarness(json, instance.lifecycle.precondition.slice(1), [AMI]);
    harness.variable.ami.default = ami as ReturnType<typeof amiWithRootSnapshot>;
    return harness;
  }

  const presetsAndTypes = Object.entries(IMAGE_PRESETS).flatMap(([name, preset]) =>
    preset.families.map((family) => [name, Object.keys(INSTANCE_TYPES).find((t) => t.startsWith(`${family}.`))!] as const));

  test.each(presetsAndTypes)('preset %s on %s plans with its own image and fails with another', (image, instanceType) => {
    // GIVEN
    const input = { image, instanceType, region: Object.keys(INSTANCE_TYPES[instanceType].offeredIn)[0] };
    const other = IMAGE_PRESETS[image === 'base' ? 'multi-framework' : 'base'];
    // WHEN
    const own = plan(imageHarness(input, amiWithRootSnapshot(40, amiNameOf(IMAGE_PRESETS[image]))));
    const foreign = plan(imageHarness(input, amiWithRootSnapshot(40, amiNameOf(other))));
    // THEN
    expect(own.errors).toEqual([]);
    expect(own.ok).toBe(true);
    expect(foreign.errors.map((e) => e.detail)).toEqual([expect.stringContaining(`but preset ${image} expects an image named`)]);
  });

  test('fails the plan when the parameter names an image of another kind, naming it and how to choose', () => {
    // GIVEN the PyTorch preset, but the parameter names the multi-framework image
    const harness = imageHarness({}, amiWithRootSnapshot(40, 'Deep Learning AMI Neuron (Ubuntu 24.04) 20261019'));
    // WHEN
    const result = plan(harness);
    // THEN
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => e.detail)).toEqual([
      'image "pytorch" resolved to ami-0123456789abcdef0 "Deep Learning AMI Neuron (Ubuntu 24.04) 20261019" (x86_64) ' +
      'from /aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id, but preset pytorch-2.9 expects an image ' +
      'named "Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04) ...". Choose another with the config key image: a preset ' +
      '(pytorch, pytorch-2.9, torchneuron-2.14, jax-0.10, vllm-0.24, multi-framework, base), ssm:<parameter path> or an ' +
      'ami-... id; `npx trainium-spot image` shows what each resolves to.',
    ]);
  });

  test('fails the plan when an AMI id names an arm64 image', () => {
    const result = plan(imageHarness({ image: 'ami-0123456789abcdef0' }, amiWithRootSnapshot(40, 'my-arm-image', 'arm64')));
    expect(result.ok).toBe(false);
    expect(result.errors.map((e) => e.detail)).toEqual([
      'image "ami-0123456789abcdef0" resolved to ami-0123456789abcdef0 "my-arm-image" (arm64) from the config, but the ' +
      'supported instance types need an x86_64 image. Choose another with the config key image: a preset (pytorch, ' +
      'pytorch-2.9, torchneuron-2.14, jax-0.10, vllm-0.24, multi-framework, base), ssm:<parameter path> or an ami-... id; ' +
      '`npx trainium-spot image` shows what each resolves to.',
    ]);
  });

  test('an image named by its own parameter is checked for x86_64 only', () => {
    const result = plan(imageHarness({ image: 'ssm:/my/images/latest' }, amiWithRootSnapshot(40, 'my-team-image 2026')));
    expect(result.errors).toEqual([]);
    expect(result.ok).toBe(true);
  });
});
