import * as fs from 'node:fs';
import * as path from 'node:path';
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
  });

  test('fails when the box may read any Parameter Store parameter: every read action is denied on every parameter', () => {
    // THEN: one inline policy, an explicit deny of every action that reads a parameter's value or metadata
    expect(Object.keys(json.resource.aws_iam_role_policy)).toHaveLength(1);
    const documents = Object.values(json.data.aws_iam_policy_document) as any[];
    const deny = documents.flatMap((d) => d.statement).find((st) => st.effect === 'Deny');
    expect(deny).toEqual({
      effect: 'Deny',
      actions: ['ssm:DescribeParameters', 'ssm:GetParameter', 'ssm:GetParameterHistory', 'ssm:GetParameters', 'ssm:GetParametersByPath'],
      resources: ['*'],
    });
  });

  test('keeps what SSM Agent needs: of AmazonSSMManagedInstanceCore\'s actions the deny takes only the two parameter reads', () => {
    // GIVEN the managed policy's actions, version v2
    // (https://docs.aws.amazon.com/aws-managed-policy/latest/reference/AmazonSSMManagedInstanceCore.html, checked 2026-12-07)
    const core = [
      'ssm:DescribeAssociation', 'ssm:GetDeployablePatchSnapshotForInstance', 'ssm:GetDocument', 'ssm:DescribeDocument',
      'ssm:GetManifest', 'ssm:GetParameter', 'ssm:GetParameters', 'ssm:ListAssociations', 'ssm:ListInstanceAssociations',
      'ssm:PutInventory', 'ssm:PutComplianceItems', 'ssm:PutConfigurePackageResult', 'ssm:UpdateAssociationStatus',
      'ssm:UpdateInstanceAssociationStatus', 'ssm:UpdateInstanceInformation',
      'ssmmessages:CreateControlChannel', 'ssmmessages:CreateDataChannel', 'ssmmessages:OpenControlChannel', 'ssmmessages:OpenDataChannel',
      'ec2messages:AcknowledgeMessage', 'ec2messages:DeleteMessage', 'ec2messages:FailMessage', 'ec2messages:GetEndpoint',
      'ec2messages:GetMessages', 'ec2messages:SendReply',
    ];
    // WHEN
    const denied = (Object.values(json.data.aws_iam_policy_document) as any[]).flatMap((d) => d.statement)
      .filter((st) => st.effect === 'Deny').flatMap((st) => st.actions);
    // THEN
    expect(core.filter((action) => denied.includes(action))).toEqual(['ssm:GetParameter', 'ssm:GetParameters']);
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
  const withImdsv2 = JSON.parse(Testing.synthScope((scope) => {
    new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws', allowRequiringImdsv2: true });
  }));
  const imdsStatement = (Object.values(withImdsv2.data.aws_iam_policy_document) as any[]).map((d) => d.statement[0])
    .find((st) => st.actions[0] === 'ec2:ModifyInstanceMetadataOptions');

  test('fails when a box may change the metadata options of another instance, or set anything but IMDSv2 required, hop limit 1, endpoint on', () => {
    expect(imdsStatement).toEqual({
      actions: ['ec2:ModifyInstanceMetadataOptions'],
      resources: ['arn:aws:ec2:*:*:instance/*'],
      condition: [
        // The caller's instance is the target instance ($$ keeps the policy variable from Terraform).
        { test: 'ArnLike', variable: 'ec2:SourceInstanceARN', values: ['arn:aws:ec2:*:*:instance/$${ec2:InstanceId}'] },
        { test: 'StringEquals', variable: 'ec2:Attribute/HttpTokens', values: ['required'] },
        { test: 'StringEquals', variable: 'ec2:Attribute/HttpPutResponseHopLimit', values: ['1'] },
        { test: 'StringEquals', variable: 'ec2:Attribute/HttpEndpoint', values: ['enabled'] },
        { test: 'Null', variable: 'ec2:Attribute/HttpProtocolIpv6', values: ['true'] },
        { test: 'Null', variable: 'ec2:Attribute/InstanceMetadataTags', values: ['true'] },
      ],
    });
    expect(Object.values(withImdsv2.resource.aws_iam_role_policy).map((p: any) => p.name_prefix)).toContain('require-imdsv2-');
  });

  test('fails when the first-boot script makes a call the grant does not allow', () => {
    // GIVEN the call src/userdata/require-imdsv2.sh makes
    const script = fs.readFileSync(path.join(__dirname, '..', '..', 'src', 'userdata', 'require-imdsv2.sh'), 'utf8');
    const call = /^\s+aws ec2 modify-instance-metadata-options ([^>]*)>\/dev\/null/m.exec(script)?.[1] ?? '';
    const flags = Object.fromEntries([...call.matchAll(/--([a-z0-9-]+) ("[^"]*"|\S+)/g)].map((m) => [m[1], m[2]]));
    // THEN it passes exactly the attributes the grant pins, with the pinned values (--region and --instance-id aside)
    const API_NAMES: Record<string, string> = {
      'http-tokens': 'HttpTokens', 'http-put-response-hop-limit': 'HttpPutResponseHopLimit', 'http-endpoint': 'HttpEndpoint',
    };
    const { region, 'instance-id': instanceId, ...attributes } = flags;
    expect([region, instanceId]).toEqual(['"$region"', '"$instance_id"']);
    const passed = Object.fromEntries(Object.entries(attributes).map(([flag, value]) => [`ec2:Attribute/${API_NAMES[flag] ?? flag}`, value]));
    const pinned = Object.fromEntries(imdsStatement.condition.filter((c: any) => c.test === 'StringEquals')
      .map((c: any) => [c.variable, c.values[0]]));
    expect(passed).toEqual(pinned);
  });

  test('has no such right by default', () => {
    const synthesized = Testing.synthScope((scope) => { new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws' }); });
    const documents = Object.values(JSON.parse(synthesized).data.aws_iam_policy_document) as any[];
    const actions = documents.flatMap((d) => d.statement).flatMap((st) => st.actions);
    expect(actions).not.toContain('ec2:ModifyInstanceMetadataOptions');
  });

  test('GIVEN publishVerdict THEN the box may publish metrics into its own verdict namespace only: TrainiumSpot/Idle/ and its instance ARN', () => {
    // WHEN
    const withVerdict = JSON.parse(Testing.synthScope((scope) => {
      new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws', publishVerdict: true });
    }));
    // THEN the namespace is compared with the ARN of the instance whose credentials sign the call ($$ keeps the
    // policy variable from Terraform); CloudWatch has no condition key on dimensions, so this is what separates boxes
    const documents = Object.values(withVerdict.data.aws_iam_policy_document) as any[];
    expect(documents.find((d) => d.statement[0].actions[0] === 'cloudwatch:PutMetricData').statement).toEqual([{
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      condition: [{ test: 'StringEquals', variable: 'cloudwatch:namespace', values: ['TrainiumSpot/Idle/$${ec2:SourceInstanceARN}'] }],
    }]);
    expect(Object.values(withVerdict.resource.aws_iam_role_policy).map((p: any) => p.name_prefix))
      .toEqual(['deny-ssh-keys-', 'publish-verdict-']);
  });

  test('has no right to publish metrics by default', () => {
    const synthesized = Testing.synthScope((scope) => { new InstanceProfile(scope, 'profile', { name: 'box', partition: 'aws' }); });
    const documents = Object.values(JSON.parse(synthesized).data.aws_iam_policy_document) as any[];
    expect(documents.flatMap((d) => d.statement).flatMap((st) => st.actions)).not.toContain('cloudwatch:PutMetricData');
  });
});
