/**
 * Security policy over the synthesized JSON, one rule per test, named by the checkov id it mirrors.
 * checkov and trivy skip aws_spot_instance_request entirely; these rules check it like aws_instance.
 * Each rule is also shown a bad stack, so none of them can pass by checking nothing.
 */
import { ConfigInput } from '../src/config';
import { TerraformJson, blocksOf, synthesizeJson, userDataText } from './support/synth';

type Violation = string;
type Rule = (json: TerraformJson) => Violation[];

const INSTANCE_TYPES = ['aws_instance', 'aws_spot_instance_request'];
const WORLD = ['0.0.0.0/0', '::/0'];
const REQUIRE_IMDSV2 = '/usr/local/sbin/trainium-spot-require-imdsv2';

const instances = (json: TerraformJson) =>
  INSTANCE_TYPES.flatMap((type) => Object.entries(json.resource[type] ?? {}).map(([name, block]) => ({ id: `${type}.${name}`, block })));

const RULES: Record<string, Rule> = {
  // A spot request cannot carry metadata options (EC2's RequestSpotInstances has none), so there
  // the rule asks for the first-boot step that requires IMDSv2 on the box itself.
  'CKV_AWS_79 instance metadata requires IMDSv2 tokens': (json) => instances(json)
    .filter(({ id, block }) => (id.startsWith('aws_spot_instance_request.')
      ? !userDataText(block).includes(`- [${REQUIRE_IMDSV2}]`)
      : block.metadata_options?.http_tokens !== 'required' || block.metadata_options?.http_put_response_hop_limit !== 1))
    .map(({ id }) => id),
  'CKV_AWS_8 launch volumes are encrypted': (json) => instances(json)
    .filter(({ block }) => block.root_block_device?.encrypted !== true
      || (block.ebs_block_device ?? []).some((d: { encrypted?: boolean }) => d.encrypted !== true))
    .map(({ id }) => id),
  'CKV_AWS_3 EBS volumes are encrypted': (json) => Object.entries(json.resource.aws_ebs_volume ?? {})
    .filter(([, block]) => block.encrypted !== true).map(([name]) => `aws_ebs_volume.${name}`),
  'CKV_AWS_24 no SSH from 0.0.0.0/0 or ::/0': (json) => [
    ...blocksOf(json, 'aws_vpc_security_group_ingress_rule')
      .filter((r) => (WORLD.includes(r.cidr_ipv4) || WORLD.includes(r.cidr_ipv6)) && portsInclude(r, 22))
      .map((r) => r.description ?? 'ingress rule'),
    ...blocksOf(json, 'aws_security_group').flatMap((g) => (g.ingress ?? [])
      .filter((r: any) => [...(r.cidr_blocks ?? []), ...(r.ipv6_cidr_blocks ?? [])].some((c: string) => WORLD.includes(c)) && portsInclude(r, 22))
      .map(() => 'inline ingress')),
  ],
  'CKV_AWS_126 detailed monitoring is on': (json) => instances(json)
    .filter(({ block }) => block.monitoring !== true).map(({ id }) => id),
  'CKV_AWS_135 instances are EBS-optimized': (json) => instances(json)
    .filter(({ block }) => block.ebs_optimized !== true).map(({ id }) => id),
  'CKV2_AWS_41 an IAM instance profile is attached': (json) => instances(json)
    .filter(({ block }) => !block.iam_instance_profile).map(({ id }) => id),
  'CKV2_AWS_34 SSM parameters are SecureString': (json) => blocksOf(json, 'aws_ssm_parameter')
    .filter((p) => p.type !== 'SecureString').map((p) => String(p.name)),
  // Checkov's rule: actions_enabled must not be false. The backstop's child alarms have no action of
  // their own (their composite stops the box through EventBridge), but their actions stay enabled.
  'CKV_AWS_319 alarm actions are enabled': (json) => blocksOf(json, 'aws_cloudwatch_metric_alarm')
    .filter((a) => a.actions_enabled === false).map((a) => String(a.alarm_name)),
  'CKV_AWS_23 security groups and their rules are described': (json) => [
    ...blocksOf(json, 'aws_security_group'),
    ...blocksOf(json, 'aws_vpc_security_group_ingress_rule'),
    ...blocksOf(json, 'aws_vpc_security_group_egress_rule'),
  ].filter((b) => typeof b.description !== 'string' || b.description.trim() === '').map((b) => JSON.stringify(b).slice(0, 80)),
};

function portsInclude(rule: { from_port?: number; to_port?: number; ip_protocol?: string; protocol?: string }, port: number) {
  if ((rule.ip_protocol ?? rule.protocol) === '-1') return true;
  return (rule.from_port ?? 0) <= port && port <= (rule.to_port ?? 65535);
}

const STACKS: Record<string, ConfigInput> = {
  'default spot': {},
  'spot with SSH from one network': { sshCidrs: ['203.0.113.0/24'] },
  'on-demand, two boxes': { market: 'on-demand', instanceCount: 2 },
  'auto': { market: 'auto' },
  'auto with data volumes': { market: 'auto', instanceCount: 2, dataVolume: { sizeGiB: 500 } },
  'capacity block': {
    market: 'capacity-block', instanceType: 'trn1.32xlarge', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3',
  },
};

/** Makes a stack break one rule, to show that the rule notices. */
const BREAKERS: Record<string, (json: TerraformJson) => void> = {
  CKV_AWS_79: (json) => {
    const spot = firstSpot(json);
    spot.user_data = userDataText(spot).replace(`- [${REQUIRE_IMDSV2}]`, '');
    delete spot.user_data_base64;
  },
  CKV_AWS_8: (json) => { firstSpot(json).root_block_device.encrypted = false; },
  CKV_AWS_3: (json) => { json.resource.aws_ebs_volume = { plain: { availability_zone: 'us-east-2c', size: 500 } }; },
  CKV_AWS_24: (json) => {
    json.resource.aws_vpc_security_group_ingress_rule = {
      world: { cidr_ipv4: '0.0.0.0/0', from_port: 22, to_port: 22, ip_protocol: 'tcp', description: 'oops' },
    };
  },
  CKV_AWS_126: (json) => { firstSpot(json).monitoring = false; },
  CKV_AWS_135: (json) => { delete firstSpot(json).ebs_optimized; },
  CKV2_AWS_41: (json) => { delete firstSpot(json).iam_instance_profile; },
  CKV2_AWS_34: (json) => { Object.values(json.resource.aws_ssm_parameter)[0].type = 'String'; },
  CKV_AWS_319: (json) => { Object.values(json.resource.aws_cloudwatch_metric_alarm)[0].actions_enabled = false; },
  CKV_AWS_23: (json) => { delete Object.values(json.resource.aws_vpc_security_group_egress_rule)[0].description; },
};

function firstSpot(json: TerraformJson) {
  return Object.values(json.resource.aws_spot_instance_request)[0];
}

describe.each(Object.entries(RULES))('%s', (ruleName, rule) => {
  const id = ruleName.split(' ')[0];

  test.each(Object.entries(STACKS))('holds for the %s stack', (_stack, input) => {
    expect(rule(synthesizeJson(input))).toEqual([]);
  });

  test('fails on a stack that breaks it', () => {
    // GIVEN
    const json = synthesizeJson({});
    BREAKERS[id](json);
    // THEN
    expect(rule(json).length).toBeGreaterThan(0);
  });
});

test('every rule has a breaker, and the instance rules see spot requests', () => {
  expect(Object.keys(BREAKERS).sort()).toEqual(Object.keys(RULES).map((name) => name.split(' ')[0]).sort());
  expect(instances(synthesizeJson({})).map(({ id }) => id.split('.')[0])).toEqual(['aws_spot_instance_request']);
});

test('SSH from the world appears only when asked for by name', () => {
  const open = synthesizeJson({ sshCidrs: ['0.0.0.0/0'], allowSshFromAnywhere: true });
  expect(RULES['CKV_AWS_24 no SSH from 0.0.0.0/0 or ::/0'](open)).toEqual(['SSH from 0.0.0.0/0']);
});
