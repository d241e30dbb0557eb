import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';

export interface InstanceProfileProps {
  readonly name: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
}

/**
 * The box's identity: only what Session Manager needs (AmazonSSMManagedInstanceCore). The box stops
 * itself through the operating system, so it needs no EC2 permissions at all.
 */
export class InstanceProfile extends Construct {
  readonly profileName: string;
  readonly roleName: string;

  constructor(scope: Construct, id: string, props: InstanceProfileProps) {
    super(scope, id);

    const assumeRole = new DataAwsIamPolicyDocument(this, 'assume-role', {
      statement: [{
        actions: ['sts:AssumeRole'],
        principals: [{ type: 'Service', identifiers: ['ec2.amazonaws.com'] }],
      }],
    });
    const role = new IamRole(this, 'role', {
      namePrefix: `${props.name}-`,
      description: `${props.name} box: Session Manager access`,
      assumeRolePolicy: assumeRole.json,
    });
    new IamRolePolicyAttachment(this, 'ssm-core', {
      role: role.name,
      policyArn: `arn:${props.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
    });
    const profile = new IamInstanceProfile(this, 'profile', {
      namePrefix: `${props.name}-`,
      role: role.name,
    });
    this.profileName = profile.name;
    this.roleName = role.name;
  }
}
