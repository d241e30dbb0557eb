import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { KEY_PARAMETER_PREFIX } from '../catalog';

export interface InstanceProfileProps {
  readonly name: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
  /**
   * Let a box require IMDSv2 on itself (ec2:ModifyInstanceMetadataOptions, only on instances that
   * carry this profile): spot requests cannot set metadata options at launch.
   * @default false
   */
  readonly allowRequiringImdsv2?: boolean;
  /**
   * Let a box publish CloudWatch metrics to this namespace, and no other (the idle verdict).
   * @default - no metric publishing
   */
  readonly metricNamespace?: string;
}

/**
 * The box's identity: what Session Manager needs (AmazonSSMManagedInstanceCore), and for spot boxes
 * the right to require IMDSv2 on themselves, and the right to publish the idle verdict to one CloudWatch
 * namespace. The box stops itself through the operating system, so it needs no other EC2 permission.
 * It may never read the generated private SSH keys.
 */
export class InstanceProfile extends Construct {
  readonly profileName: string;

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
    // AmazonSSMManagedInstanceCore allows ssm:GetParameter and ssm:GetParameters on every parameter,
    // which includes the box's own private key. Parameter Store authorizes each GetParameter* action on
    // its own, and GetParametersByPath against the requested path, not the parameters it returns, so a
    // deny must name every action and every ancestor path of the keys:
    // https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html (checked 2026-12-01).
    const keyParameters = `arn:${props.partition}:ssm:*:*:parameter${KEY_PARAMETER_PREFIX}`;
    const denySshKeys = new DataAwsIamPolicyDocument(this, 'deny-ssh-keys', {
      statement: [{
        effect: 'Deny',
        actions: ['ssm:GetParameter*'],
        resources: [`${keyParameters}*`, ...ancestorPaths(keyParameters)],
      }],
    });
    new IamRolePolicy(this, 'deny-ssh-keys-policy', { namePrefix: 'deny-ssh-keys-', role: role.id, policy: denySshKeys.json });
    const profile = new IamInstanceProfile(this, 'profile', {
      namePrefix: `${props.name}-`,
      role: role.name,
    });
    if (props.allowRequiringImdsv2) {
      const requireImdsv2 = new DataAwsIamPolicyDocument(this, 'require-imdsv2', {
        statement: [{
          actions: ['ec2:ModifyInstanceMetadataOptions'],
          resources: [`arn:${props.partition}:ec2:*:*:instance/*`],
          condition: [{ test: 'ArnEquals', variable: 'ec2:InstanceProfile', values: [profile.arn] }],
        }],
      });
      new IamRolePolicy(this, 'require-imdsv2-policy', { namePrefix: 'require-imdsv2-', role: role.id, policy: requireImdsv2.json });
    }
    if (props.metricNamespace !== undefined) {
      // PutMetricData takes no resource ARN; the cloudwatch:namespace condition key is how AWS scopes it
      // (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html,
      // checked 2026-12-01).
      const publishVerdict = new DataAwsIamPolicyDocument(this, 'publish-verdict', {
        statement: [{
          actions: ['cloudwatch:PutMetricData'],
          resources: ['*'],
          condition: [{ test: 'StringEquals', variable: 'cloudwatch:namespace', values: [props.metricNamespace] }],
        }],
      });
      new IamRolePolicy(this, 'publish-verdict-policy', { namePrefix: 'publish-verdict-', role: role.id, policy: publishVerdict.json });
    }
    this.profileName = profile.name;
  }
}

/** `arn:...:parameter/ec2/keypair/` -> the ARNs of `/ec2/keypair`, `/ec2` and `/`. */
function ancestorPaths(parameterPathArn: string): string[] {
  const [base, path] = parameterPathArn.split(':parameter');
  const parts = path.split('/').filter(Boolean);
  return parts.map((_, i) => `${base}:parameter/${parts.slice(0, parts.length - i).join('/')}`)
    .concat(`${base}:parameter/`);
}
