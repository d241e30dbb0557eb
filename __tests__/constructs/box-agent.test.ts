import { DataResource, Testing, TerraformStack } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { agentDocumentName, BoxAgent } from '../../src/constructs/box-agent';
import type { AgentDocument } from '../../src/userdata';
import { onlyBlock } from '../support/synth';

const DOCUMENT: AgentDocument = {
  content: '{"schemaVersion":"2.2","mainSteps":[{"inputs":{"runCommand":["echo ${HOME} %{x}"]}}]}',
  hash: 'ab'.repeat(32),
  command: 'echo ${HOME} %{x}\n',
  files: [],
};

/** arn:<partition>:ec2:<region>:<account>:instance/, as the stack gives it: known only at plan time. */
const ARN_PREFIX = 'arn:${data.aws_partition.p.partition}:ec2:us-east-2:${data.aws_caller_identity.c.account_id}:instance/';

function synth(name = 'lab', dataVolumeIdsRef?: string) {
  const stack = new TerraformStack(Testing.app(), 'test');
  new AwsProvider(stack, 'aws', { region: 'us-east-2' });
  const deployment = new DataResource(stack, 'deployment');
  new BoxAgent(stack, 'agent', {
    name, document: DOCUMENT, deploymentTag: { key: 'trainium-spot:deployment', value: deployment.id }, publicKeyRef: 'aws_key_pair.k.public_key',
    instanceArnPrefix: ARN_PREFIX, dataVolumeIdsRef,
  });
  return JSON.parse(Testing.synth(stack));
}

describe('BoxAgent', () => {
  test('a Command document with the content exactly as rendered (no Terraform template read into it)', () => {
    // WHEN
    const document = onlyBlock(synth().resource, 'aws_ssm_document');
    // THEN
    // One document per deployment: document names are unique in an account and region.
    expect(document).toMatchObject({ name: 'lab-agent-${substr(terraform_data.deployment.id, 0, 8)}', document_type: 'Command', document_format: 'JSON' });
    expect(document.content).toBe('{"schemaVersion":"2.2","mainSteps":[{"inputs":{"runCommand":["echo $${HOME} %%{x}"]}}]}');
  });

  test('an association on every instance of this deployment, re-run every 30 minutes, passing the hash, the bare public key and the ARN prefix', () => {
    // WHEN
    const association = onlyBlock(synth().resource, 'aws_ssm_association');
    // THEN
    expect(association).toMatchObject({
      association_name: 'lab-agent',
      targets: [{ key: 'tag:trainium-spot:deployment', values: ['${terraform_data.deployment.id}'] }],
      schedule_expression: 'rate(30 minutes)',
      parameters: {
        documentHash: 'ab'.repeat(32),
        sshPublicKey: '${join(" ", slice(split(" ", trimspace(aws_key_pair.k.public_key)), 0, 2))}',
        // The box names its own verdict namespace from it, without asking the instance metadata service.
        instanceArnPrefix: ARN_PREFIX,
      },
    });
    // Run at once when created or changed: never only at the schedule.
    expect(association).not.toHaveProperty('apply_only_at_cron_interval');
  });

  test('GIVEN data volumes THEN the association passes their ids, space-separated, to every box; without, no such parameter', () => {
    // WHEN
    const withVolumes = onlyBlock(synth('lab', 'aws_ebs_volume.v[*].id').resource, 'aws_ssm_association');
    const without = onlyBlock(synth().resource, 'aws_ssm_association');
    // THEN
    expect(withVolumes.parameters.dataVolumeIds).toBe('${join(" ", aws_ebs_volume.v[*].id)}');
    expect(without.parameters).not.toHaveProperty('dataVolumeIds');
  });

  test.each([['aws-box'], ['Amazon-lab'], ['amzn']])('a name starting with a prefix AWS reserves (%s) gets a document name of ours', (name) => {
    expect(agentDocumentName(name)).toBe(`trainium-spot-${name}-agent`);
  });

  test('the prefix is reserved as letters, not as a word (awsome), and other names name the document after the association', () => {
    expect(agentDocumentName('awsome')).toBe('trainium-spot-awsome-agent');
    expect(agentDocumentName('lab')).toBe('lab-agent');
  });
});
