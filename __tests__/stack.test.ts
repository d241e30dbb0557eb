/** The whole default stack: what a user gets from `cdktf synth` with no config at all. */
import { spawnSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { Testing } from 'cdktf';
import { AwsProvider } from '@cdktf/provider-aws/lib/provider';
import { ConfigInput, parseConfig } from '../src/config';
import { STACK_NAME, TrainiumSpotStack } from '../src/stack';
import { terraformMissingReason } from './support/engine';
import { agentDocumentContent, fileOnBox, filesOf, manifestOf } from './support/agent';
import { onlyBlock, synthesize, synthesizeJson, userDataText } from './support/synth';

describe('the default stack', () => {
  const json = synthesizeJson();

  test('is deterministic: two syntheses are identical and hold no wall-clock time', () => {
    expect(synthesize()).toBe(synthesize());
    expect(JSON.stringify(json)).not.toMatch(/20\d\d-\d\d-\d\dT\d\d:/);
  });

  test('configures the AWS provider for the region, with project tags on every resource', () => {
    expect(synthesize()).toHaveProviderWithProperties(AwsProvider, {
      region: 'us-east-2',
      default_tags: [{ tags: { Project: 'trainium-spot', ManagedBy: 'trainium-spot' } }],
    });
  });

  test('keeps local state beside cdktf.json, not inside cdktf.out', () => {
    expect(json.terraform.backend).toEqual({ local: { path: '../../../terraform.trainium-spot.tfstate' } });
  });

  test('outputs the ids and ready-to-paste commands', () => {
    expect(Object.keys(json.output).sort()).toEqual([
      'activate_command', 'availability_zone_id', 'availability_zones', 'deployment_id', 'fetch_key_command', 'instance_id', 'instance_ids',
      'interruption_topic_arn', 'key_name', 'key_pair_id', 'market', 'on_demand_price_per_hour', 'private_key_parameter',
      'public_ip', 'public_ips', 'spot_max_price_per_hour', 'spot_request_ids', 'spot_request_status_codes', 'ssh_command', 'ssm_command', 'start_command',
    ]);
    const keyFile = '~/.ssh/trainium-spot-${aws_key_pair.ssh-key_key-pair_C1AB6A3E.key_pair_id}.pem';
    expect(json.output.fetch_key_command.value).toBe('mkdir -p ~/.ssh && (umask 077 && aws ssm get-parameter ' +
      '--name ${aws_ssm_parameter.ssh-key_private-key-parameter_F4FB697A.name} --with-decryption --query Parameter.Value ' +
      `--output text --region us-east-2 > ${keyFile}.tmp) && mv -f ${keyFile}.tmp ${keyFile}`);
    expect(json.output.ssh_command.value).toBe(`ssh -i ${keyFile} -o ProxyCommand='aws ssm start-session --target %h ` +
      '--document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2\' ubuntu@${try(local.instance-ids[0], "")}');
    expect(json.output.ssm_command.value).toBe('aws ssm start-session --target ${try(local.instance-ids[0], "")} --region us-east-2');
  });

  test("names the spot boxes' Availability Zone after the subnet's (a spot request without placement reports none)", () => {
    expect(json.output.availability_zones.value).toMatch(
      /^\$\{\[for box in aws_spot_instance_request\.[^ ]+ : aws_subnet\.[^ ]+\.availability_zone\]\}$/);
  });

  test('with sshCidrs and sshPublicKey, ssh_command goes to the public IP with the user\'s own key', () => {
    const open = synthesizeJson({ sshCidrs: ['203.0.113.0/24'], sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 me@laptop' });
    expect(open.output.ssh_command.value).toBe('ssh ubuntu@${try(local.public-ips[0], "")}');
  });

  test('fetch_key_command runs twice: the second run replaces the key, which stays mode 0600', () => {
    // GIVEN the command with its references resolved, a temp HOME and an `aws` that prints a key
    const home = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-fetch-'));
    const bin = path.join(home, 'bin');
    fs.mkdirSync(bin);
    fs.writeFileSync(path.join(bin, 'aws'), '#!/bin/sh\necho "KEY $COUNT"\n', { mode: 0o755 });
    const command = (json.output.fetch_key_command.value as string)
      .replace(/\$\{aws_ssm_parameter\.[^}]+\}/, '/ec2/keypair/key-0123').replace(/\$\{aws_key_pair\.[^}]+\}/g, 'key-0123');
    const run = (count: string) => spawnSync('sh', ['-c', command], { env: { PATH: `${bin}:/usr/bin:/bin`, HOME: home, COUNT: count }, encoding: 'utf8' });
    try {
      // WHEN
      const first = run('1');
      const second = run('2');
      // THEN
      const key = path.join(home, '.ssh', 'trainium-spot-key-0123.pem');
      expect([first.status, first.stderr, second.status, second.stderr]).toEqual([0, '', 0, '']);
      expect(fs.readFileSync(key, 'utf8')).toBe('KEY 2\n');
      expect(fs.statSync(key).mode & 0o777).toBe(0o600);
      expect(fs.readdirSync(path.join(home, '.ssh'))).toEqual(['trainium-spot-key-0123.pem']);
    } finally {
      fs.rmSync(home, { recursive: true, force: true });
    }
  });

  test('reads the PyTorch Neuron DLAMI of trn1 from its public SSM parameter', () => {
    const parameter = Object.values(json.data.aws_ssm_parameter)[0];
    expect(parameter.name).toBe('/aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id');
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(request.ami).toMatch(/^\$\{data\.aws_ssm_parameter\.[^.]+\.insecure_value\}$/);
  });

  test('with sshPublicKey, outputs no private key parameter or fetch command', () => {
    const imported = synthesizeJson({ sshPublicKey: 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIB7 me@laptop' });
    expect(imported.output).not.toHaveProperty('fetch_key_command');
    expect(imported.output.ssh_command.value).toBe("ssh -o ProxyCommand='aws ssm start-session --target %h " +
      '--document-name AWS-StartSSHSession --parameters portNumber=%p --region us-east-2\' ubuntu@${try(local.instance-ids[0], "")}');
    expect(imported.output).not.toHaveProperty('private_key_parameter');
    expect(imported.provider).not.toHaveProperty('tls');
  });

  test('with subnetId, guards the plan on the subnet offering the type', () => {
    const reused = synthesizeJson({ subnetId: 'subnet-0123456789abcdef0' });
    const request = Object.values(reused.resource.aws_spot_instance_request)[0];
    expect(reused.resource).not.toHaveProperty('aws_vpc');
    expect(request.lifecycle.precondition[1]).toEqual({
      condition: expect.stringMatching(/^\$\{contains\(\["use2-az3"\], data\.aws_subnet\.[^.]+\.availability_zone_id\)\}$/),
      error_message: expect.stringMatching(/^subnetId subnet-0123456789abcdef0 is in AZ ID .* which does not offer trn1\.2xlarge; AZ IDs in us-east-2 that do: use2-az3\.$/),
    });
  });

  test('hands every box its agent through State Manager: the idle check, its config and the interruption watcher', () => {
    // GIVEN the default stack
    const document = onlyBlock(json.resource, 'aws_ssm_document');
    const association = onlyBlock(json.resource, 'aws_ssm_association');
    const content = agentDocumentContent(json);
    // THEN the document installs them
    expect(document).toMatchObject({ name: expect.stringMatching(/^trainium-spot-agent-\$\{substr\(terraform_data\.[^.]+\.id, 0, 8\)\}$/), document_type: 'Command', document_format: 'JSON' });
    expect(filesOf(content).map((f) => f.path)).toEqual(expect.arrayContaining([
      '/usr/local/sbin/trainium-spot-idle', '/etc/systemd/system/trainium-spot-idle.timer', '/etc/trainium-spot/idle.conf',
      '/usr/local/sbin/trainium-spot-interruption', '/etc/motd',
    ]));
    expect(fileOnBox(content, '/etc/trainium-spot/idle.conf')).toContain('IDLE_MINUTES=3\n');
    expect(fileOnBox(content, '/etc/trainium-spot/idle.conf')).toContain("AWS_REGION_NAME='us-east-2'\n");
    expect(manifestOf(content)).toEqual(expect.arrayContaining([
      'unit trainium-spot-interruption.service enable /usr/local/sbin/trainium-spot-interruption /etc/systemd/system/trainium-spot-interruption.service',
      'authorized-key ubuntu', 'aws required',
    ]));
    // AND the association runs it on the boxes that carry the stack's agent tag, with the document's hash and the public key
    expect(association).toMatchObject({
      name: expect.stringMatching(/^\$\{aws_ssm_document\.[^.]+\.name\}$/),
      association_name: 'trainium-spot-agent',
      targets: [{ key: 'tag:trainium-spot:deployment', values: [expect.stringMatching(/^\$\{terraform_data\.[^.]+\.id\}$/)] }],
      schedule_expression: 'rate(30 minutes)',
      parameters: {
        documentHash: createHash('sha256').update(content).digest('hex'),
        sshPublicKey: expect.stringMatching(/^\$\{join\(" ", slice\(split\(" ", trimspace\(aws_key_pair\.[^.]+\.public_key\)\), 0, 2\)\)\}$/),
      },
    });
    // AND the box's user data holds nothing of it
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(userDataText(request)).not.toMatch(/idle\.conf|trainium-spot-idle|systemctl/);
  });

  test("tags the spot instance itself with the project tags, the user's tags, its Name and the deployment id", () => {
    const tagged = synthesizeJson({ tags: { team: 'ml', 'cost/centre': '42', 'cost--centre': '43' } });
    const tags = Object.values(tagged.resource.aws_ec2_tag).map((t) => [t.key, t.value]);
    expect(Object.fromEntries(tags)).toEqual({
      Project: 'trainium-spot', ManagedBy: 'trainium-spot', Name: 'trainium-spot',
      team: 'ml', 'cost/centre': '42', 'cost--centre': '43', 'trainium-spot:deployment': DEPLOYMENT_ID_REF,
    });
  });

  test('spot boxes require IMDSv2 on themselves at first boot, since a spot request cannot set it', () => {
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(userDataText(request)).toContain('path: /usr/local/sbin/trainium-spot-require-imdsv2');
    expect(userDataText(request)).toContain('  - [/usr/local/sbin/trainium-spot-require-imdsv2]');
    expect(Object.values(json.resource.aws_iam_role_policy).map((p) => p.name_prefix)).toContain('require-imdsv2-');
  });

  test("the scripts' shell expansions are escaped, so Terraform leaves them for the box", () => {
    const request = Object.values(json.resource.aws_spot_instance_request)[0];
    expect(request.user_data).toContain('IMDS=$${TS_IMDS_ENDPOINT:-http://169.254.169.254}');
    expect(request.user_data).not.toMatch(/(^|[^$])\$\{/);
    const document = onlyBlock(json.resource, 'aws_ssm_document');
    expect(document.content).toContain('readonly ROOT=$${TRAINIUM_SPOT_ROOT:-}');
    expect(document.content).not.toMatch(/(^|[^$])\$\{/);
  });

  test('on-demand boxes get IMDSv2 from the launch itself, and no such script or right', () => {
    const onDemand = synthesizeJson({ market: 'on-demand' });
    expect(userDataText(Object.values(onDemand.resource.aws_instance)[0])).not.toContain('require-imdsv2');
    expect(Object.values(onDemand.resource.aws_iam_role_policy ?? {}).map((p) => p.name_prefix)).not.toContain('require-imdsv2-');
  });

  test('without the idle alarm, has no alarm', () => {
    expect(synthesizeJson({ idleAlarm: { enabled: false } }).resource).not.toHaveProperty('aws_cloudwatch_metric_alarm');
  });
});

// ------------------------------------------------------------------- which deployment a box belongs to
/** The deployment id as the stack references it: the `id` Terraform generates for its terraform_data at the first apply. */
const DEPLOYMENT_ID_REF = expect.stringMatching(/^\$\{terraform_data\.deployment_id_[0-9A-F]{8}\.id\}$/);

describe('the deployment id: two stacks of one name in one account and region tell their boxes apart by it', () => {
  test('is the id of a terraform_data without input or trigger, so nothing in the config ever replaces it', () => {
    // WHEN
    const json = synthesizeJson();
    // THEN
    const [[address, data]] = Object.entries(json.resource.terraform_data).filter(([name]) => name.startsWith('deployment_'));
    expect(address).toMatch(/^deployment_id_[0-9A-F]{8}$/);
    expect(data).toEqual({});
    expect(json.output.deployment_id).toEqual({
      value: DEPLOYMENT_ID_REF,
      description: expect.stringContaining('trainium-spot:deployment'),
    });
  });

  test('is never a provider default tag: its value is known only at apply', () => {
    const json = synthesizeJson();
    expect(JSON.stringify(json.provider.aws)).not.toContain('deployment');
  });

  test.each<[string, ConfigInput]>([
    ['on-demand', { market: 'on-demand' }],
    ['spot through RunInstances', { spotLaunch: 'run-instances' }],
    ['capacity-reservation', { market: 'capacity-reservation' }],
  ])('a box launched by RunInstances (%s) carries its Name, the agent\'s tag and the deployment id; its volumes the Name', (_label, input) => {
    // WHEN
    const instance = Object.values(synthesizeJson(input).resource.aws_instance)[0];
    // THEN the provider's default tags add Project and ManagedBy
    expect(instance.tags).toEqual({ Name: 'trainium-spot', 'trainium-spot:deployment': DEPLOYMENT_ID_REF });
    expect(instance.volume_tags).toEqual({ Name: 'trainium-spot' });
  });

  test('on the spot request path the deployment tag is the last aws_ec2_tag, so the tags before it keep their addresses', () => {
    // GIVEN the tag resources' construct ids, which follow the tags' positions
    const json = synthesizeJson({ tags: { team: 'ml' } });
    const byPosition = Object.entries(json.resource.aws_ec2_tag)
      .map(([name, tag]) => [Number(/tag-(\d+)_/.exec(name)![1]), tag.key] as const).sort(([a], [b]) => a - b);
    // THEN
    expect(byPosition.map(([, key]) => key)).toEqual(
      ['Project', 'ManagedBy', 'team', 'Name', 'trainium-spot:deployment']);
  });
});

describe('the data volume', () => {
  const DATA_VOLUME_INPUT = { sizeGiB: 500 };

  test('is opt-in: the default stack has no volume, no attachment, no volume ids for the agent', () => {
    const json = synthesizeJson();
    expect(json.resource).not.toHaveProperty('aws_ebs_volume');
    expect(json.resource).not.toHaveProperty('aws_volume_attachment');
    expect(onlyBlock(json.resource, 'aws_ssm_association').parameters).not.toHaveProperty('dataVolumeIds');
    expect(json.output).not.toHaveProperty('data_volume_ids');
  });

  test('GIVEN auto with two boxes THEN two volumes in the subnet\'s AZ, each attached to the box of its index in whichever market won', () => {
    // WHEN
    const json = synthesizeJson({ market: 'auto', instanceCount: 2, dataVolume: DATA_VOLUME_INPUT });
    const volume = onlyBlock(json.resource, 'aws_ebs_volume');
    const attachment = onlyBlock(json.resource, 'aws_volume_attachment');
    // THEN: no market's count reaches the volumes; the attachments pick the box from both markets' list
    expect(volume.count).toBe(2);
    expect(volume.availability_zone).toMatch(/^\$\{aws_subnet\.network_public-subnet_\w+\.availability_zone\}$/);
    expect(attachment.count).toBe(2);
    expect(attachment.instance_id).toBe('${local.instance-ids[count.index]}');
    expect(json.locals!['instance-ids']).toMatch(/^\$\{concat\(aws_spot_instance_request\.[\w-]+\[\*\]\.spot_instance_id, aws_instance\.[\w-]+\[\*\]\.id\)\}$/);
  });

  test('the agent gets the volume ids and mounts the one of its box at /data; the ids are an output', () => {
    // WHEN
    const json = synthesizeJson({ dataVolume: DATA_VOLUME_INPUT });
    const volume = Object.keys(json.resource.aws_ebs_volume)[0];
    // THEN
    expect(onlyBlock(json.resource, 'aws_ssm_association').parameters.dataVolumeIds).toBe(`\${join(" ", aws_ebs_volume.${volume}[*].id)}`);
    expect(manifestOf(agentDocumentContent(json))).toContain('run /usr/local/sbin/trainium-spot-data-volume /data ubuntu {{ dataVolumeIds }}');
    expect(json.output.data_volume_ids.value).toBe(`\${aws_ebs_volume.${volume}[*].id}`);
  });

  test('GIVEN an existing subnet THEN the volumes are in its AZ, and the guard compares with its AZ ID', () => {
    const json = synthesizeJson({ subnetId: 'subnet-0123456789abcdef0', dataVolume: DATA_VOLUME_INPUT });
    const subnet = Object.keys(json.data.aws_subnet)[0];
    expect(onlyBlock(json.resource, 'aws_ebs_volume').availability_zone).toBe(`\${data.aws_subnet.${subnet}.availability_zone}`);
    expect(Object.entries(json.locals!).filter(([key]) => key.startsWith('data-volume_'))).toEqual([
      [expect.any(String), `\${data.aws_subnet.${subnet}.availability_zone_id}`],
    ]);
  });
});

describe('backends', () => {
  test('Terraform Cloud: a cloud block with the organization and workspace', () => {
    const json = synthesizeJson({ backend: { type: 'cloud', organization: 'acme', workspace: 'ml-box' } });
    expect(json.terraform.cloud).toEqual({ hostname: 'app.terraform.io', organization: 'acme', workspaces: { name: 'ml-box' } });
    expect(json.terraform).not.toHaveProperty('backend');
  });

  test('S3: encrypted, with S3-native locking', () => {
    const json = synthesizeJson({ backend: { type: 's3', bucket: 'my-state', region: 'us-east-1' } });
    expect(json.terraform.backend).toEqual({
      s3: { bucket: 'my-state', key: 'trainium-spot/terraform.tfstate', region: 'us-east-1', encrypt: true, use_lockfile: true },
    });
  });
});

const skipReason = terraformMissingReason();
if (skipReason) console.warn(`SKIPPED cdktf validation test: ${skipReason}`);
(skipReason ? test.skip : test)("passes cdktf's own construct validations, which the app skips at synth", () => {
  const stack = new TrainiumSpotStack(Testing.app(), STACK_NAME, parseConfig({ market: 'auto' }));
  expect(() => Testing.synth(stack, true)).not.toThrow();
});
