/**
 * The plan-time guards on Terraform's real engine: the synthesized conditions, messages and locals,
 * with the data sources they read replaced by variables (see support/terraform.ts).
 */
import { DataBinding, localsFor, plan, terraformMissingReason, bindData } from '../support/terraform';
import { synthesizeJson, TerraformJson } from '../support/synth';

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

/** What `data.aws_ami` returns for an image with a root snapshot of this size. */
function amiWithRootSnapshot(sizeGiB: number) {
  return {
    id: 'ami-0123456789abcdef0',
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
      'rootVolumeSizeGiB is 60 GiB, but the AMI from /aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id ' +
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
