import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { verdictNamespace } from '../catalog';
import { literal } from '../terraform-literal';

export interface InstanceProfileProps {
  readonly name: string;
  /** The AWS partition, e.g. `aws` (a plan-time value from `aws_partition`). */
  readonly partition: string;
  /**
   * Let a box require IMDSv2 on itself (ec2:ModifyInstanceMetadataOptions on its own instance, and only
   * to require tokens with hop limit 1 and the endpoint on): spot requests cannot set metadata options at launch.
   * @default false
   */
  readonly allowRequiringImdsv2?: boolean;
  /**
   * Let a box publish its own idle verdict: CloudWatch metrics into its own namespace,
   * `TrainiumSpot/Idle/<its instance ARN>` (catalog verdictNamespace), and no other.
   * @default false
   */
  readonly publishVerdict?: boolean;
}

/**
 * The statement that lets an instance publish its idle verdict, and only into its own namespace: a box's role has
 * it, and the cluster head's (ClusterRoles).
 *
 * PutMetricData takes no resource ARN; the cloudwatch:namespace condition key is how AWS scopes it, and
 * CloudWatch has no key on dimensions, so in one shared namespace an instance could publish any instance's
 * InstanceId (https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/iam-cw-condition-keys-namespace.html,
 * checked 2026-12-07). So every instance has a namespace of its own, named after its instance ARN, and may
 * publish only there: ${ec2:SourceInstanceARN} is the ARN of the instance whose role credentials sign the
 * call, a variable IAM allows in string conditions; a call without it (credentials used outside an
 * instance) matches nothing (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html,
 * checked 2026-12-07).
 */
export function publishVerdictStatement(): DataAwsIamPolicyDocumentStatement {
  return {
    actions: ['cloudwatch:PutMetricData'],
    resources: ['*'],
    condition: [{ test: 'StringEquals', variable: 'cloudwatch:namespace', values: [literal(verdictNamespace('${ec2:SourceInstanceARN}'))] }],
  };
}

/**
 * The box's identity: what Session Manager needs (AmazonSSMManagedInstanceCore), and for spot boxes
 * the right to require IMDSv2 on themselves, and the right to publish the box's own idle verdict into its
 * own CloudWatch namespace. The box stops itself through the operating system, so it needs no other EC2 permission.
 * It may read no Parameter Store parameter, the generated private SSH keys among them.
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
    // AmazonSSMManagedInstanceCore (v2) allows ssm:GetParameter and ssm:GetParameters on every parameter
    // (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html,
    // checked 2026-12-07), the generated private SSH keys under /ec2/keypair/ among them. Nothing on the box
    // reads a parameter: Session Manager and State Manager use the policy's other actions, and the box's
    // Command document has no {{ssm:...}} reference. So every read is denied on every parameter, which also
    // covers GetParametersByPath, authorized against the requested path and not the parameters it returns
    // (https://docs.aws.amazon.com/systems-manager/latest/userguide/ps-retrieval-authorization.html, checked 2026-12-01).
    // The construct IDs stay those of the deny it replaces: a new ID would swap the inline policy, leaving
    // the role without a deny for a moment of the apply.
    const denyParameterReads = new DataAwsIamPolicyDocument(this, 'deny-ssh-keys', {
      statement: [{
        effect: 'Deny',
        actions: ['ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
        resources: ['*'],
      }],
    });
    new IamRolePolicy(this, 'deny-ssh-keys-policy', { namePrefix: 'deny-ssh-keys-', role: role.id, policy: denyParameterReads.json });
    const profile = new IamInstanceProfile(this, 'profile', {
      namePrefix: `${props.name}-`,
      role: role.name,
    });
    if (props.allowRequiringImdsv2) {
      // Only on itself: ec2:SourceInstanceARN is the instance whose role credentials sign the request
      // (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html), ${ec2:InstanceId}
      // the instance acted on; AWS's own AWSEC2VssSnapshotPolicy pairs them this way to let an instance act on
      // itself only (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AWSEC2VssSnapshotPolicy.html).
      // Only to lock it down: ec2:Attribute/<parameter> is the value the request sets, absent when the request
      // leaves that parameter out; AWS's "Deny opt-out of IMDSv2" example scopes this action with it
      // (https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html#iam-example-instance-metadata,
      // checked 2026-12-07). Not ec2:MetadataHttpTokens and its siblings: AWS's examples use them for RunInstances,
      // and a public report of live probes found that for this action they carry the instance's current options,
      // not the requested ones, so pinning them would refuse the very call that requires IMDSv2.
      // So the call must set tokens required, hop limit 1 and the endpoint on, and may not touch the IPv6
      // endpoint or tags in metadata. src/userdata/require-imdsv2.sh makes exactly that call.
      const requireImdsv2 = new DataAwsIamPolicyDocument(this, 'require-imdsv2', {
        statement: [{
          actions: ['ec2:ModifyInstanceMetadataOptions'],
          resources: [`arn:${props.partition}:ec2:*:*:instance/*`],
          condition: [
            { test: 'ArnLike', variable: 'ec2:SourceInstanceARN', values: [`arn:${props.partition}:ec2:*:*:instance/${literal('${ec2:InstanceId}')}`] },
            { test: 'StringEquals', variable: 'ec2:Attribute/HttpTokens', values: ['required'] },
            { test: 'StringEquals', variable: 'ec2:Attribute/HttpPutResponseHopLimit', values: ['1'] },
            { test: 'StringEquals', variable: 'ec2:Attribute/HttpEndpoint', values: ['enabled'] },
            { test: 'Null', variable: 'ec2:Attribute/HttpProtocolIpv6', values: ['true'] },
            { test: 'Null', variable: 'ec2:Attribute/InstanceMetadataTags', values: ['true'] },
          ],
        }],
      });
      new IamRolePolicy(this, 'require-imdsv2-policy', { namePrefix: 'require-imdsv2-', role: role.id, policy: requireImdsv2.json });
    }
    if (props.publishVerdict) {
      // The construct IDs stay: the inline policy is updated in place.
      const publishVerdict = new DataAwsIamPolicyDocument(this, 'publish-verdict', { statement: [publishVerdictStatement()] });
      new IamRolePolicy(this, 'publish-verdict-policy', { namePrefix: 'publish-verdict-', role: role.id, policy: publishVerdict.json });
    }
    this.profileName = profile.name;
  }
}
