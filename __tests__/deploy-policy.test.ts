/**
 * docs/deploy-policy.json is the IAM policy the README hands to whoever deploys the stack. Every
 * resource and data source that any configuration synthesizes must be covered by it, or a deploy
 * fails half-way through an apply for want of a permission.
 */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { ConfigInput } from '../src/config';
import { synthesizeClusterJson, synthesizeJson } from './support/synth';

interface Statement {
  Effect: 'Allow' | 'Deny';
  Action: string | string[];
  Resource: string | string[];
  Condition?: Record<string, Record<string, string[]>>;
}
const policy = JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'docs', 'deploy-policy.json'), 'utf8')) as {
  Version: string;
  Statement: Statement[];
};

/** What the AWS provider calls to create, read and delete each type (create/delete/read at the least). */
const ACTIONS_BY_TYPE: Readonly<Record<string, readonly string[]>> = {
  aws_vpc: ['ec2:CreateVpc', 'ec2:DeleteVpc', 'ec2:DescribeVpcs', 'ec2:ModifyVpcAttribute'],
  aws_subnet: ['ec2:CreateSubnet', 'ec2:DeleteSubnet', 'ec2:DescribeSubnets', 'ec2:ModifySubnetAttribute'],
  aws_internet_gateway: ['ec2:CreateInternetGateway', 'ec2:AttachInternetGateway', 'ec2:DetachInternetGateway', 'ec2:DeleteInternetGateway'],
  aws_route_table: ['ec2:CreateRouteTable', 'ec2:DeleteRouteTable', 'ec2:DescribeRouteTables'],
  aws_route: ['ec2:CreateRoute', 'ec2:DeleteRoute', 'ec2:ReplaceRoute'],
  aws_route_table_association: ['ec2:AssociateRouteTable', 'ec2:DisassociateRouteTable'],
  aws_default_security_group: ['ec2:RevokeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress', 'ec2:DescribeSecurityGroups'],
  aws_security_group: ['ec2:CreateSecurityGroup', 'ec2:DeleteSecurityGroup', 'ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupEgress'],
  aws_vpc_security_group_egress_rule: ['ec2:AuthorizeSecurityGroupEgress', 'ec2:RevokeSecurityGroupEgress', 'ec2:DescribeSecurityGroupRules'],
  aws_vpc_security_group_ingress_rule: ['ec2:AuthorizeSecurityGroupIngress', 'ec2:RevokeSecurityGroupIngress', 'ec2:DescribeSecurityGroupRules'],
  aws_key_pair: ['ec2:ImportKeyPair', 'ec2:DeleteKeyPair', 'ec2:DescribeKeyPairs'],
  aws_spot_instance_request: ['ec2:RequestSpotInstances', 'ec2:CancelSpotInstanceRequests', 'ec2:DescribeSpotInstanceRequests',
    'ec2:TerminateInstances', 'ec2:CreateTags', 'iam:PassRole'],
  aws_instance: ['ec2:RunInstances', 'ec2:TerminateInstances', 'ec2:DescribeInstances', 'ec2:ModifyInstanceAttribute',
    'ec2:StopInstances', 'ec2:StartInstances', 'ec2:CreateTags', 'iam:PassRole'],
  aws_ec2_tag: ['ec2:CreateTags', 'ec2:DeleteTags', 'ec2:DescribeTags'],
  // The final snapshot: CreateSnapshot with the volume's tags, then DescribeSnapshots until it completes.
  aws_ebs_volume: ['ec2:CreateVolume', 'ec2:ModifyVolume', 'ec2:DeleteVolume', 'ec2:DescribeVolumes', 'ec2:CreateTags',
    'ec2:CreateSnapshot', 'ec2:DescribeSnapshots'],
  // stop_instance_before_detaching stops the box first.
  aws_volume_attachment: ['ec2:AttachVolume', 'ec2:DetachVolume', 'ec2:DescribeVolumes', 'ec2:StopInstances', 'ec2:DescribeInstances'],
  aws_iam_role: ['iam:CreateRole', 'iam:DeleteRole', 'iam:GetRole', 'iam:TagRole', 'iam:ListRolePolicies', 'iam:ListAttachedRolePolicies'],
  aws_iam_role_policy: ['iam:PutRolePolicy', 'iam:GetRolePolicy', 'iam:DeleteRolePolicy'],
  aws_iam_role_policy_attachment: ['iam:AttachRolePolicy', 'iam:DetachRolePolicy', 'iam:ListAttachedRolePolicies'],
  aws_iam_instance_profile: ['iam:CreateInstanceProfile', 'iam:DeleteInstanceProfile', 'iam:GetInstanceProfile',
    'iam:AddRoleToInstanceProfile', 'iam:RemoveRoleFromInstanceProfile'],
  aws_iam_service_linked_role: ['iam:CreateServiceLinkedRole', 'iam:DeleteServiceLinkedRole', 'iam:GetRole'],
  aws_ssm_parameter: ['ssm:PutParameter', 'ssm:GetParameter', 'ssm:DeleteParameter', 'ssm:AddTagsToResource', 'ssm:ListTagsForResource'],
  aws_ssm_document: ['ssm:CreateDocument', 'ssm:UpdateDocument', 'ssm:UpdateDocumentDefaultVersion', 'ssm:DeleteDocument',
    'ssm:DescribeDocument', 'ssm:GetDocument', 'ssm:DescribeDocumentPermission', 'ssm:AddTagsToResource', 'ssm:ListTagsForResource'],
  aws_ssm_association: ['ssm:CreateAssociation', 'ssm:UpdateAssociation', 'ssm:DeleteAssociation', 'ssm:DescribeAssociation',
    'ssm:AddTagsToResource', 'ssm:ListTagsForResource'],
  aws_launch_template: ['ec2:CreateLaunchTemplate', 'ec2:CreateLaunchTemplateVersion', 'ec2:ModifyLaunchTemplate', 'ec2:DeleteLaunchTemplate',
    'ec2:DescribeLaunchTemplates', 'ec2:DescribeLaunchTemplateVersions', 'ec2:GetLaunchTemplateData'],
  aws_placement_group: ['ec2:CreatePlacementGroup', 'ec2:DeletePlacementGroup', 'ec2:DescribePlacementGroups'],
  aws_efs_file_system: ['elasticfilesystem:CreateFileSystem', 'elasticfilesystem:DeleteFileSystem', 'elasticfilesystem:DescribeFileSystems',
    'elasticfilesystem:DescribeLifecycleConfiguration', 'elasticfilesystem:TagResource'],
  aws_efs_mount_target: ['elasticfilesystem:CreateMountTarget', 'elasticfilesystem:DeleteMountTarget', 'elasticfilesystem:DescribeMountTargets',
    'elasticfilesystem:DescribeMountTargetSecurityGroups', 'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces'],
  aws_fsx_lustre_file_system: ['fsx:CreateFileSystem', 'fsx:DeleteFileSystem', 'fsx:DescribeFileSystems', 'fsx:TagResource',
    'ec2:CreateNetworkInterface', 'ec2:DescribeNetworkInterfaces'],
  aws_cloudwatch_metric_alarm: ['cloudwatch:PutMetricAlarm', 'cloudwatch:DeleteAlarms', 'cloudwatch:DescribeAlarms', 'cloudwatch:TagResource'],
  aws_cloudwatch_composite_alarm: ['cloudwatch:PutCompositeAlarm', 'cloudwatch:DeleteAlarms', 'cloudwatch:DescribeAlarms', 'cloudwatch:TagResource'],
  aws_cloudwatch_event_rule: ['events:PutRule', 'events:DeleteRule', 'events:DescribeRule', 'events:TagResource'],
  aws_cloudwatch_event_target: ['events:PutTargets', 'events:RemoveTargets', 'events:ListTargetsByRule'],
  aws_sns_topic: ['sns:CreateTopic', 'sns:DeleteTopic', 'sns:GetTopicAttributes', 'sns:TagResource'],
  aws_sns_topic_policy: ['sns:SetTopicAttributes', 'sns:GetTopicAttributes'],
  aws_sns_topic_subscription: ['sns:Subscribe', 'sns:Unsubscribe', 'sns:GetSubscriptionAttributes'],
  // Terraform's and the TLS provider's own: no AWS call.
  terraform_data: [],
  tls_private_key: [],
  // Data sources.
  'data.aws_ami': ['ec2:DescribeImages'],
  // sts:GetCallerIdentity needs no permission, and an explicit deny does not stop it
  // (https://docs.aws.amazon.com/STS/latest/APIReference/API_GetCallerIdentity.html, checked 2026-12-07).
  'data.aws_caller_identity': [],
  'data.aws_iam_policy_document': [],
  'data.aws_partition': [],
  'data.aws_servicequotas_service_quota': ['servicequotas:GetAWSDefaultServiceQuota', 'servicequotas:GetServiceQuota'],
  'data.aws_ssm_parameter': ['ssm:GetParameter'],
  'data.aws_subnet': ['ec2:DescribeSubnets'],
};

/** Configurations that, together, synthesize every resource and data source type the stack has. */
const VARIANTS: readonly ConfigInput[] = [
  {},
  { market: 'on-demand', sshCidrs: ['203.0.113.7/32'] },
  { spotLaunch: 'run-instances', image: 'torchneuron-2.14', instanceType: 'trn2.48xlarge' },
  { market: 'auto', notifyEmail: 'ml-team@example.com', createSpotServiceLinkedRole: true, createCloudWatchServiceLinkedRole: true,
    dataVolume: { sizeGiB: 500, snapshotId: 'snap-0123456789abcdef0' } },
  { market: 'capacity-reservation', subnetId: 'subnet-0123456789abcdef0', sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIA user' },
  { instanceType: 'trn1.32xlarge', market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' },
  { cluster: { nodes: 2 } },
  { cluster: { market: 'on-demand', sharedStorage: { type: 'fsx-lustre', storageCapacityGiB: 1200 } } },
];

const typesOf = (input: ConfigInput): string[] => [synthesizeJson(input), ...(input.cluster ? [synthesizeClusterJson(input)] : [])]
  .flatMap((json) => [...Object.keys(json.resource), ...Object.keys(json.data ?? {}).map((t) => `data.${t}`)]);

const asList = (value: string | string[]): string[] => (Array.isArray(value) ? value : [value]);
const allowed = (action: string): boolean => policy.Statement.some((st) => st.Effect === 'Allow' &&
  asList(st.Action).some((pattern) => new RegExp(`^${pattern.replace(/\*/g, '.*')}$`, 'i').test(action)));

describe('the deploying identity\'s IAM policy (docs/deploy-policy.json)', () => {
  const synthesizedTypes = [...new Set(VARIANTS.flatMap(typesOf))].sort();

  test('knows every resource and data source type a configuration synthesizes', () => {
    // THEN: a new type must be added to ACTIONS_BY_TYPE (and its actions to the policy)
    expect(synthesizedTypes.filter((type) => !(type in ACTIONS_BY_TYPE))).toEqual([]);
  });

  test.each(Object.entries(ACTIONS_BY_TYPE))('allows what %s needs', (_type, actions) => {
    expect(actions.filter((action) => !allowed(action))).toEqual([]);
  });

  test('grants no service-wide wildcard and hands the box role only to AWS services', () => {
    const actions = policy.Statement.flatMap((st) => asList(st.Action));
    expect(actions.filter((a) => a === '*' || /^[a-z0-9-]+:\*$/.test(a))).toEqual([]);
    const passRole = policy.Statement.find((st) => asList(st.Action).includes('iam:PassRole'));
    expect(passRole?.Condition?.StringEquals?.['iam:PassedToService']).toEqual(expect.arrayContaining(['ec2.amazonaws.com']));
  });

  test('lets the account get the service-linked roles only of spot and alarm actions', () => {
    const create = policy.Statement.find((st) => asList(st.Action).includes('iam:CreateServiceLinkedRole'));
    expect(create?.Condition?.StringEquals?.['iam:AWSServiceName']).toEqual(['spot.amazonaws.com', 'events.amazonaws.com']);
  });
});
