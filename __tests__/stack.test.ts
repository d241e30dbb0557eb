/** The whole default stack: what a user gets from `cdktf synth` with no config at all. */
import { Testing } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { parseConfig } from '../src/config';
import { STACK_NAME, TrainiumSpotStack } from '../src/stack';
import { terraformMissingReason } from './support/terraform';
import { synthesize, synthesizeJson, userDataText } from './support/synth';

describe('the default stack', () => {
  const json = synthesizeJson();

  test('is deterministic: two syntheses are identical and hold no wall-clock time', () => {
    expect(synthesize()).toBe(synthesize());
    expect(JSON.stringify(json)).not.toMatch(/20\d\d-\d\d-\d\dT\d\d:/);
  });

  test('configures the AWS provider for the region, with project tags on every resource', () => {
    expect(synthesize()).toHaveProviderWithProperties(AwsProvider, {
      region: 'us-east-2',
      default_tags: [{ tags: { Project: 'trainium-spot', ManagedBy: 'trainium-spot' } }],
    });
  });

  test('keeps local state beside cdktf.json, not inside cdktf.out', () => {
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.trainium-spot.tfstate' } });
  });

  test('outputs the ids and ready-to-paste commands', () => {
    expect(Object.keys(json.output).sort()).toEqual([
      'availability_zone_id', 'availability_zones', 'fetch_key_command', 'instance_id', 'instance_ids',
      'interruption_topic_arn', 'key_name', 'key_pair_id', 'market', 'on_demand_price_per_hour', 'private_key_parameter',
      'public_ip', 'public_ips', 'spot_max_price_per_hour', 'spot_request_ids', 'ssh_command', 'ssm_command', 'start_command',
    ]);
    expect(json.output.fetch_key_command.value).toMatch(
      /^aws ssm get-parameter --name \$\{aws_ssm_parameter\.[^}]+\.name\} --with-decryption --query Parameter\.Value --output text --region us-east-2 > ~\/\.ssh\/trainium-spot\.pem && chmod 400 ~\/\.ssh\/trainium-spot\.pem$/);
    expect(json.output.ssh_command.value).toBe('ssh -i ~/.ssh/trainium-spot.pem ubuntu@${try(local.public-ips[0], null)}');
    expect(json.output.ssm_command.value).toBe('aws ssm start-session --target ${try(local.instance-ids[0], null)} --region us-east-2');
  });

  test('reads the Neuron DLAMI from its public SSM parameter', () => {
    const parameter = Object.values(json.data.aws_ssm_parameter)[0];
    expect(parameter.name).toBe('/aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id');
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(request.ami).toMatch(/^\$\{data\.aws_ssm_parameter\.[^.]+\.insecure_value\}$/);
  });

  test('with sshPublicKey, outputs no private key parameter or fetch command', () => {
    const imported = synthesizeJson({ sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 me@laptop' });
    expect(imported.output).not.toHaveProperty('fetch_key_command');
    expect(imported.output).not.toHaveProperty('private_key_parameter');
    expect(imported.provider).not.toHaveProperty('tls');
  });

  test('with subnetId, guards the plan on the subnet offering the type', () => {
    const reused = synthesizeJson({ subnetId: 'subnet-0123456789abcdef0' });
    const request = Object.values(reused.resource.aws_spot_instance_request)[0];
    expect(reused.resource).not.toHaveProperty('aws_vpc');
    expect(request.lifecycle.precondition[1]).toEqual({
      condition: expect.stringMatching(/^\$\{contains\(\["use2-az3"\], data\.aws_subnet\.[^.]+\.availability_zone_id\)\}$/),
      error_message: expect.stringMatching(/^subnetId subnet-0123456789abcdef0 is in AZ ID .* which does not offer trn1\.2xlarge; AZ IDs in us-east-2 that do: use2-az3\.$/),
    });
  });

  test('hands the box the cloud-init that installs the idle check, its config and the interruption watcher', () => {
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    const text = userDataText(request);
    expect(text).toMatch(/^#cloud-config\n/);
    expect(text).toContain('path: /etc/systemd/system/trainium-spot-idle.timer');
    expect(text).toContain('path: /etc/trainium-spot/idle.conf');
    expect(text).toContain('IDLE_MINUTES=3');
    expect(text).toContain("AWS_REGION_NAME='us-east-2'");
    expect(text).toContain('- [systemctl, enable, --now, trainium-spot-idle.timer, trainium-spot-neuron-monitor.service]');
    expect(text).toContain('- [systemctl, enable, --now, trainium-spot-interruption.service]');
  });

  test("tags the spot instance itself with the project tags, the user's tags and its Name", () => {
    const tagged = synthesizeJson({ tags: { team: 'ml', 'cost/centre': '42', 'cost--centre': '43' } });
    const tags = Object.values(tagged.resource.aws_ec2_tag).map((t) => [t.key, t.value]);
    expect(Object.fromEntries(tags)).toEqual({
      Project: 'trainium-spot', ManagedBy: 'trainium-spot', Name: 'trainium-spot', team: 'ml', 'cost/centre': '42', 'cost--centre': '43',
    });
  });

  test('spot boxes require IMDSv2 on themselves at first boot, since a spot request cannot set it', () => {
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(userDataText(request)).toContain('path: /usr/local/sbin/trainium-spot-require-imdsv2');
    expect(userDataText(request)).toContain('  - [/usr/local/sbin/trainium-spot-require-imdsv2]');
    expect(json.resource).toHaveProperty('aws_iam_role_policy');
  });

  test('on-demand boxes get IMDSv2 from the launch itself, and no such script or right', () => {
    const onDemand = synthesizeJson({ market: 'on-demand' });
    expect(userDataText(Object.values(onDemand.resource.aws_instance)[0])).not.toContain('require-imdsv2');
    expect(Object.values(onDemand.resource.aws_iam_role_policy ?? {}).map((p) => p.name_prefix)).not.toContain('require-imdsv2-');
  });

  test('without the idle alarm, has no alarm', () => {
    expect(synthesizeJson({ idleAlarm: { enabled: false } }).resource).not.toHaveProperty('aws_cloudwatch_metric_alarm');
  });
});

describe('backends', () => {
  test('Terraform Cloud: a cloud block with the organization and workspace', () => {
    const json = synthesizeJson({ backend: { type: 'cloud', organization: 'acme', workspace: 'ml-box' } });
    expect(json.terraform.cloud).toEqual({ hostname: 'app.terraform.io', organization: 'acme', workspaces: { name: 'ml-box' } });
    expect(json.terraform).not.toHaveProperty('backend');
  });

  test('S3: encrypted, with S3-native locking', () => {
    const json = synthesizeJson({ backend: { type: 's3', bucket: 'my-state', region: 'us-east-1' } });
    expect(json.terraform.backend).toEqual({
      s3: { bucket: 'my-state', key: 'trainium-spot/terraform.tfstate', region: 'us-east-1', encrypt: true, use_lockfile: true },
    });
  });
});

const skipReason = terraformMissingReason();
if (skipReason) console.warn(`SKIPPED cdktf validation test: ${skipReason}`);
(skipReason ? test.skip : test)("passes cdktf's own construct validations, which the app skips at synth", () => {
  const stack = new TrainiumSpotStack(Testing.app(), STACK_NAME, parseConfig({ market: 'auto' }));
  expect(() => Testing.synth(stack, true)).not.toThrow();
});
