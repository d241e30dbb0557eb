import { Testing, TerraformStack } from 'cdktf';
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

function synth(name = 'lab', dataVolumeIdsRef?: string) {
  const stack = new TerraformStack(Testing.app(), 'test');
  new AwsProvider(stack, 'aws', { region: 'us-east-2' });
  new BoxAgent(stack, 'agent', {
    name, document: DOCUMENT, targetTag: { key: 'trainium-spot:agent', value: name }, publicKeyRef: 'aws_key_pair.k.public_key', dataVolumeIdsRef,
  });
  return JSON.parse(Testing.synth(stack));
}

describe('BoxAgent', () => {
  test('a Command document with the content exactly as rendered (no Terraform template read into it)', () => {
    // WHEN
    const document = onlyBlock(synth().resource, 'aws_ssm_document');
    // THEN
    expect(document).toMatchObject({ name: 'lab-agent', document_type: 'Command', document_format: 'JSON' });
    expect(document.content).toBe('{"schemaVersion":"2.2","mainSteps":[{"inputs":{"runCommand":["echo $${HOME} %%{x}"]}}]}');
  });

  test('an association on every instance with the tag, re-run every 30 minutes, passing the hash and the bare public key', () => {
    // WHEN
    const association = onlyBlock(synth().resource, 'aws_ssm_association');
    // THEN
    expect(association).toMatchObject({
      association_name: 'lab-agent',
      targets: [{ key: 'tag:trainium-spot:agent', values: ['lab'] }],
      schedule_expression: 'rate(30 minutes)',
      parameters: { documentHash: 'ab'.repeat(32), sshPublicKey: '${join(" ", slice(split(" ", trimspace(aws_key_pair.k.public_key)), 0, 2))}' },
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
