import { Testing } from 'cdktf';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
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
    expect(json.resource).not.toHaveProperty('aws_iam_role_policy');
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
