import { Testing } from 'cdktf';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { InstanceProfile } from '../../src/constructs/instance-profile';

describe('InstanceProfile', () => {
  const synthesized = Testing.synthScope((scope) => {
    new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws' });
  });
  const json = JSON.parse(synthesized);

  test('attaches exactly AmazonSSMManagedInstanceCore, so Session Manager works without SSH', () => {
    expect(synthesized).toHaveResourceWithProperties(IamRolePolicyAttachment, {
      policy_arn: 'arn:aws:iam::aws:policy/AmazonSSMManagedInstanceCore',
    });
    expect(Object.keys(json.resource.aws_iam_role_policy_attachment)).toHaveLength(1);
  });

  test('denies every way of reading the generated private SSH keys, which that policy would allow', () => {
    // THEN: one inline policy, a deny of all four GetParameter* actions on the keys and every ancestor path
    expect(Object.keys(json.resource.aws_iam_role_policy)).toHaveLength(1);
    const documents = Object.values(json.data.aws_iam_policy_document) as any[];
    const deny = documents.flatMap((d) => d.statement).find((st) => st.effect === 'Deny');
    expect(deny).toEqual({
      effect: 'Deny',
      actions: ['ssm:GetParameter*'],
      resources: [
        'arn:aws:ssm:*:*:parameter/ec2/keypair/*',
        'arn:aws:ssm:*:*:parameter/ec2/keypair',
        'arn:aws:ssm:*:*:parameter/ec2',
        'arn:aws:ssm:*:*:parameter/',
      ],
    });
  });

  test('lets only EC2 assume the role', () => {
    const document = Object.values(json.data.aws_iam_policy_document)[0] as any;
    expect(document.statement).toEqual([{
      actions: ['sts:AssumeRole'],
      principals: [{ type: 'Service', identifiers: ['ec2.amazonaws.com'] }],
    }]);
  });

  test('wraps the role in an instance profile', () => {
    expect(synthesized).toHaveResourceWithProperties(IamInstanceProfile, { name_prefix: 'box-' });
  });
});

describe('InstanceProfile for spot boxes', () => {
  test('may require IMDSv2 only on instances that carry this very profile', () => {
    // WHEN
    const synthesized = Testing.synthScope((scope) => {
      new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws', allowRequiringImdsv2: true });
    });
    // THEN
    const documents = Object.values(JSON.parse(synthesized).data.aws_iam_policy_document) as any[];
    const statement = documents.map((d) => d.statement[0]).find((st) => st.actions[0] === 'ec2:ModifyInstanceMetadataOptions');
    expect(statement).toEqual({
      actions: ['ec2:ModifyInstanceMetadataOptions'],
      resources: ['arn:aws:ec2:*:*:instance/*'],
      condition: [{ test: 'ArnEquals', variable: 'ec2:InstanceProfile', values: [expect.stringMatching(/^\$\{aws_iam_instance_profile\.[^.]+\.arn\}$/)] }],
    });
    expect(synthesized).toHaveResource(IamRolePolicy);
  });

  test('has no such right by default', () => {
    const synthesized = Testing.synthScope((scope) => { new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws' }); });
    const documents = Object.values(JSON.parse(synthesized).data.aws_iam_policy_document) as any[];
    const actions = documents.flatMap((d) => d.statement).flatMap((st) => st.actions);
    expect(actions).not.toContain('ec2:ModifyInstanceMetadataOptions');
  });

  test('GIVEN a metric namespace THEN the box may publish metrics to that namespace and no other', () => {
    const withVerdict = JSON.parse(Testing.synthScope((scope) => {
      new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws', metricNamespace: 'TrainiumSpot/Idle' });
    }));
    const documents = Object.values(withVerdict.data.aws_iam_policy_document) as any[];
    expect(documents.find((d) => d.statement[0].actions[0] === 'cloudwatch:PutMetricData').statement).toEqual([{
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      condition: [{ test: 'StringEquals', variable: 'cloudwatch:namespace', values: ['TrainiumSpot/Idle'] }],
    }]);
    expect(Object.values(withVerdict.resource.aws_iam_role_policy).map((p: any) => p.name_prefix))
      .toEqual(['deny-ssh-keys-', 'publish-verdict-']);
  });
});
