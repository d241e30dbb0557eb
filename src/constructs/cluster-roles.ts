import { Construct } from 'constructs';
import { DataAwsIamPolicyDocument, DataAwsIamPolicyDocumentStatement } from '@cdktf/provider-aws/lib/data-aws-iam-policy-document';
import { IamInstanceProfile } from '@cdktf/provider-aws/lib/iam-instance-profile';
import { IamRole } from '@cdktf/provider-aws/lib/iam-role';
import { IamRolePolicy } from '@cdktf/provider-aws/lib/iam-role-policy';
import { IamRolePolicyAttachment } from '@cdktf/provider-aws/lib/iam-role-policy-attachment';
import { IAM_ROLE_NAME_PREFIX_MAX } from '../catalog';
import { publishVerdictStatement } from './instance-profile';

export interface ClusterRolesProps {
  readonly name: string;
  readonly region: string;
  /** The AWS partition (a plan-time value from `aws_partition`). */
  readonly partition: string;
  /** The account id (a plan-time value from `aws_caller_identity`). */
  readonly accountId: string;
  /** The tag every cluster instance carries (key and value): the head may terminate only those. */
  readonly clusterTag: { readonly key: string; readonly value: string };
  /** The name of the SecureString parameter that holds the munge key. */
  readonly mungeKeyParameterName: string;
  /**
   * Let the head publish its own idle verdict, into its own namespace only (the box's statement:
   * publishVerdictStatement).
   * @default false
   */
  readonly headPublishesVerdict?: boolean;
}

type Kind = 'head' | 'node';

/**
 * The cluster's two identities, least privilege:
 * - a compute node may use Session Manager (through the head) and read the munge key;
 * - the head may, besides, launch instances only from the cluster's launch template (`grantHeadLaunches`),
 *   tag only what such a launch creates, terminate only instances carrying the cluster's tag, pass only the
 *   node role, write the munge key it generates at first boot (so the key is never in Terraform state), and
 *   publish its idle verdict into its own CloudWatch namespace, as a box does.
 * Neither may read any other Parameter Store parameter.
 */
export class ClusterRoles extends Construct {
  readonly headProfileName: string;
  readonly nodeProfileName: string;
  private readonly roles: Record<Kind, IamRole>;

  constructor(scope: Construct, id: string, private readonly props: ClusterRolesProps) {
    super(scope, id);
    const trust = new DataAwsIamPolicyDocument(this, 'ec2-trust', {
      statement: [{ actions: ['sts:AssumeRole'], principals: [{ type: 'Service', identifiers: ['ec2.amazonaws.com'] }] }],
    });
    const identity = (kind: Kind, description: string) => {
      const role = new IamRole(this, `${kind}-role`, { namePrefix: `${props.name}-${kind}-`.slice(0, IAM_ROLE_NAME_PREFIX_MAX), description, assumeRolePolicy: trust.json });
      new IamRolePolicyAttachment(this, `${kind}-ssm-core`, {
        role: role.name, policyArn: `arn:${props.partition}:iam::aws:policy/AmazonSSMManagedInstanceCore`,
      });
      return { role, profile: new IamInstanceProfile(this, `${kind}-profile`, { namePrefix: `${props.name}-${kind}-`, role: role.name }) };
    };
    const node = identity('node', `${props.name} cluster compute node: Session Manager, the munge key`);
    const head = identity('head', `${props.name} cluster head: Slurm's power saving launches and terminates the nodes`);
    this.roles = { head: head.role, node: node.role };
    this.attach('node', []);
    this.headProfileName = head.profile.name;
    this.nodeProfileName = node.profile.name;
  }

  /** The head's rights, which name the launch template (made after this construct: it carries the node profile). */
  grantHeadLaunches(launchTemplateArn: string): void {
    const { clusterTag } = this.props;
    this.attach('head', [
      // ec2:LaunchTemplate is on every resource of a RunInstances request made from a template, so a launch is
      // allowed only from this one (EC2 User Guide, "Example policies for working with the EC2 API", launch
      // templates, https://docs.aws.amazon.com/AWSEC2/latest/UserGuide/ExamplePolicies_EC2.html, checked 2026-12-07).
      {
        sid: 'LaunchNodesFromTheTemplateOnly', actions: ['ec2:RunInstances'], resources: ['*'],
        condition: [{ test: 'ArnEquals', variable: 'ec2:LaunchTemplate', values: [launchTemplateArn] }],
      },
      {
        sid: 'TagOnlyWhatALaunchCreates', actions: ['ec2:CreateTags'],
        resources: [this.arn('ec2', 'instance/*'), this.arn('ec2', 'volume/*'), this.arn('ec2', 'network-interface/*')],
        condition: [{ test: 'StringEquals', variable: 'ec2:CreateAction', values: ['RunInstances'] }],
      },
      {
        sid: 'TerminateClusterNodesOnly', actions: ['ec2:TerminateInstances'], resources: [this.arn('ec2', 'instance/*')],
        condition: [{ test: 'StringEquals', variable: `aws:ResourceTag/${clusterTag.key}`, values: [clusterTag.value] }],
      },
      { sid: 'SeeTheNodes', actions: ['ec2:DescribeInstances', 'ec2:DescribeLaunchTemplates', 'ec2:DescribeLaunchTemplateVersions'], resources: ['*'] },
      {
        sid: 'PassTheNodeRoleOnly', actions: ['iam:PassRole'], resources: [this.roles.node.arn],
        condition: [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ec2.amazonaws.com'] }],
      },
      // With the AWS managed key aws/ssm no kms: permission is needed to read or write it (see MungeKey).
      { sid: 'WriteTheMungeKey', actions: ['ssm:PutParameter'], resources: [this.mungeKeyArn()] },
      ...(this.props.headPublishesVerdict ? [{ sid: 'PublishOwnIdleVerdict', ...publishVerdictStatement() }] : []),
    ]);
  }

  private arn(service: string, resource: string): string {
    return `arn:${this.props.partition}:${service}:${this.props.region}:${this.props.accountId}:${resource}`;
  }

  private mungeKeyArn(): string {
    return this.arn('ssm', `parameter${this.props.mungeKeyParameterName}`);
  }

  /**
   * AmazonSSMManagedInstanceCore allows ssm:GetParameter(s) on every parameter: every read but the munge key's
   * is denied, then `statements` are allowed.
   */
  private attach(kind: Kind, statements: DataAwsIamPolicyDocumentStatement[]): void {
    const reads = ['ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters', 'ssm:GetParametersByPath'];
    const document = new DataAwsIamPolicyDocument(this, `${kind}-permissions`, {
      statement: [
        { sid: 'NoOtherParameter', effect: 'Deny', actions: reads, notResources: [this.mungeKeyArn()] },
        { sid: 'ReadTheMungeKey', actions: ['ssm:GetParameter'], resources: [this.mungeKeyArn()] },
        ...statements,
      ],
    });
    new IamRolePolicy(this, `${kind}-policy`, { namePrefix: `cluster-${kind}-`, role: this.roles[kind].id, policy: document.json });
  }
}
