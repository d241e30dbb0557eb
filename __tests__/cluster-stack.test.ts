/** The cluster stack (`trainium-spot-cluster`): its config, and what it synthesizes for each market. */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { CLUSTER_TAG_KEY, QUOTAS, SSM_DOCUMENT_LIMIT_BYTES } from '../src/catalog';
import { HEAD_TAG_KEY } from '../src/cluster/head-agent';
import { clusterBackend } from '../src/cluster-stack';
import type { ConfigInput } from '../src/config';
import { problemWith } from './support/config';
import { blocksOf, onlyBlock, synthesizeClusterJson, synthesizeJson, TerraformJson } from './support/synth';

const ROOT = path.resolve(__dirname, '..');
const spot: ConfigInput = { cluster: { nodes: 4 } };
const template = (json: TerraformJson) => onlyBlock(json.resource, 'aws_launch_template');
/** The statements of the role policy document whose construct path names this kind (`head` or `node`). */
const statementsOf = (json: TerraformJson, kind: 'head' | 'node') =>
  Object.entries(json.data.aws_iam_policy_document).find(([id]) => id.startsWith(`roles_${kind}-permissions`))![1].statement;

describe('the cluster config', () => {
  test.each<[string, ConfigInput['cluster'], RegExp]>([
    ['a type without EFA', { instanceType: 'trn1.2xlarge' },
      /^config: cluster\.instanceType "trn1\.2xlarge" has no EFA, which multi-node jobs need; cluster types: trn1\.32xlarge, trn1n\.32xlarge, trn2\.48xlarge$/],
    ['an Inferentia type', { instanceType: 'inf2.48xlarge' }, /^config: cluster\.instanceType "inf2\.48xlarge" has no EFA/],
    ['no node at all', { nodes: 0 }, /^config: cluster\.nodes 0 must be a whole number from 1 to 64$/],
    ['a Capacity Block without its id', { market: 'capacity-block' },
      /^config: cluster\.capacityReservationId \(missing\) is required when cluster\.market is "capacity-block"; give the Capacity Block's cr-… id$/],
    ['a reservation id on spot', { capacityReservationId: 'cr-0123456789abcdef0' },
      /^config: cluster\.capacityReservationId "cr-0123456789abcdef0" is only used with cluster\.market "capacity-block", not "spot"$/],
    ['a Lustre size FSx does not make', { sharedStorage: { type: 'fsx-lustre', storageCapacityGiB: 2000 } },
      /^config: cluster\.sharedStorage\.storageCapacityGiB 2000 is not an FSx for Lustre scratch size; allowed: 1200, or a multiple of 2400$/],
    ['an unknown market', { market: 'reserved' as 'spot' }, /^config: cluster\.market "reserved" must be one of spot, on-demand, capacity-block$/],
    ['an unknown key', { node: 4 } as ConfigInput['cluster'], /^config: unknown key "node" in cluster; allowed: nodes, instanceType, market, /],
  ])('fails when %s: one line naming the field, the value and what is allowed', (_case, cluster, expected) => {
    expect(problemWith({ cluster })).toMatch(expected);
  });

  test('defaults: spot trn1.32xlarge nodes, an m7i.large head, EFS, 10 idle minutes', () => {
    const json = synthesizeClusterJson({ cluster: {} });
    expect(template(json).instance_type).toBe('trn1.32xlarge');
    expect(onlyBlock(json.resource, 'aws_instance').instance_type).toBe('m7i.large');
    expect(blocksOf(json, 'aws_efs_file_system')).toHaveLength(1);
    expect(json.output.max_nodes.value).toBe(2);
  });
});

describe('the box stack beside a cluster', () => {
  test('adding or removing cluster changes nothing in the box stack', () => {
    expect(synthesizeJson(spot)).toEqual(synthesizeJson({}));
  });

  test('npm run synth writes both stacks and says so, one line each', () => {
    // GIVEN a config with a cluster
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cluster-synth-'));
    fs.writeFileSync(path.join(dir, 'config.json'), JSON.stringify(spot));
    // WHEN
    const run = spawnSync(process.execPath, ['scripts/app.mjs'], {
      cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CDKTF_OUTDIR: dir, TRAINIUM_SPOT_CONFIG: path.join(dir, 'config.json') },
    });
    // THEN
    expect(run.stderr).toBe('');
    expect(run.stdout.trimEnd().split('\n')).toEqual([
      `trainium-spot: wrote ${dir}/stacks/trainium-spot/cdk.tf.json: market spot, 1 box (trn1.2xlarge)`,
      `trainium-spot: wrote ${dir}/stacks/trainium-spot-cluster/cdk.tf.json: cluster of up to 4 trn1.32xlarge (spot), head m7i.large`,
    ]);
    expect(JSON.parse(fs.readFileSync(path.join(dir, 'stacks', 'trainium-spot-cluster', 'cdk.tf.json'), 'utf8')).resource.aws_launch_template).toBeDefined();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  test('the cluster keeps its own state: a local file of its own, its own S3 key, its own Terraform Cloud workspace', () => {
    expect(synthesizeClusterJson(spot).terraform.backend.local.path).toBe('../../../terraform.trainium-spot-cluster.tfstate');
    expect(clusterBackend({ type: 's3', bucket: 'b', key: 'ml/terraform.tfstate', encrypt: true } as never)).toMatchObject({ key: 'ml/terraform-cluster.tfstate' });
    expect(clusterBackend({ type: 'cloud', organization: 'acme', workspace: 'ml-box', hostname: 'app.terraform.io' })).toMatchObject({ workspace: 'ml-box-cluster' });
  });
});

describe('the compute nodes: a launch template, no instance', () => {
  const json = synthesizeClusterJson(spot);

  test('EFA on every network card: efa on card 0, efa-only on the others, in the nodes\' private subnet, no public IP', () => {
    const interfaces = template(json).network_interfaces;
    expect(interfaces).toHaveLength(8);
    expect(interfaces.map((n: { network_card_index: number; device_index: number; interface_type: string }) =>
      [n.network_card_index, n.device_index, n.interface_type]))
      .toEqual(Array.from({ length: 8 }, (_, i) => [i, 0, i === 0 ? 'efa' : 'efa-only']));
    expect(new Set(interfaces.map((n: { associate_public_ip_address: string }) => n.associate_public_ip_address))).toEqual(new Set(['false']));
    expect(template(json)).not.toHaveProperty('vpc_security_group_ids');
    expect(synthesizeClusterJson({ cluster: { instanceType: 'trn1n.32xlarge' } }).resource.aws_launch_template).toBeDefined();
    expect(template(synthesizeClusterJson({ cluster: { instanceType: 'trn1n.32xlarge' } })).network_interfaces).toHaveLength(16);
  });

  test('IMDSv2 only with tags in the metadata, an encrypted gp3 root, the node profile, a name the head knows', () => {
    expect(template(json)).toMatchObject({
      name: 'trainium-spot-nodes',
      metadata_options: { http_tokens: 'required', http_put_response_hop_limit: 1, instance_metadata_tags: 'enabled' },
      block_device_mappings: [{ device_name: '/dev/sda1', ebs: { volume_type: 'gp3', encrypted: 'true', delete_on_termination: 'true' } }],
      iam_instance_profile: { name: expect.stringMatching(/^\$\{aws_iam_instance_profile\.roles_node-profile_[^.]+\.name\}$/) },
    });
    expect(blocksOf(json, 'aws_instance')).toHaveLength(1);
  });

  test.each<[string, ConfigInput, object, boolean]>([
    ['spot: one-time nodes that terminate when interrupted, in a placement group', spot,
      { instance_market_options: { market_type: 'spot', spot_options: { spot_instance_type: 'one-time', instance_interruption_behavior: 'terminate' } } }, true],
    ['on demand: no market options, in a placement group', { cluster: { market: 'on-demand' } }, {}, true],
    ['a Capacity Block: its market type and reservation, no placement group', { cluster: { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' } },
      { instance_market_options: { market_type: 'capacity-block' }, capacity_reservation_specification: { capacity_reservation_target: { capacity_reservation_id: 'cr-0123456789abcdef0' } } }, false],
  ])('%s', (_case, config, options, placement) => {
    const stack = synthesizeClusterJson(config);
    expect(template(stack)).toMatchObject(options);
    if (!('instance_market_options' in options)) expect(template(stack)).not.toHaveProperty('instance_market_options');
    expect(blocksOf(stack, 'aws_placement_group')).toHaveLength(placement ? 1 : 0);
    expect(template(stack).placement !== undefined).toBe(placement);
  });

  test('a quota that cannot hold every node fails the plan, with the increase command', () => {
    const [check] = template(json).lifecycle.precondition;
    expect(check.condition).toMatch(/^\$\{data\.aws_servicequotas_service_quota\.quota-guard_spot-vcpus_[^.]+\.value >= 512\}$/);
    expect(check.error_message).toContain(`Not enough EC2 spot quota in us-east-2: 4 x trn1.32xlarge needs 512 vCPUs, but "${QUOTAS.trn.spot.name}" (${QUOTAS.trn.spot.code})`);
    expect(check.error_message).toContain(`--quota-code ${QUOTAS.trn.spot.code} --desired-value 512 --region us-east-2`);
    // A Capacity Block draws on capacity already bought: no quota guard.
    const block = synthesizeClusterJson({ cluster: { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' } });
    expect(template(block).lifecycle.precondition.map((p: { condition: string }) => p.condition).join()).not.toContain('servicequotas');
  });
});

describe('the cluster\'s rights', () => {
  const json = synthesizeClusterJson(spot);

  test('the head launches only from the template, tags only what a launch makes, terminates only cluster instances, passes only the node role', () => {
    const statements = statementsOf(json, 'head');
    const sid = (name: string) => statements.find((s: { sid: string }) => s.sid === name);
    expect(sid('LaunchNodesFromTheTemplateOnly')).toMatchObject({
      actions: ['ec2:RunInstances'],
      condition: [{ test: 'ArnEquals', variable: 'ec2:LaunchTemplate', values: [expect.stringMatching(/^\$\{aws_launch_template\.[^.]+\.arn\}$/)] }],
    });
    expect(sid('TagOnlyWhatALaunchCreates').condition).toEqual([{ test: 'StringEquals', variable: 'ec2:CreateAction', values: ['RunInstances'] }]);
    expect(sid('TerminateClusterNodesOnly').condition).toEqual([{ test: 'StringEquals', variable: `aws:ResourceTag/${CLUSTER_TAG_KEY}`, values: ['trainium-spot'] }]);
    expect(sid('PassTheNodeRoleOnly')).toMatchObject({
      resources: [expect.stringMatching(/^\$\{aws_iam_role\.roles_node-role_[^.]+\.arn\}$/)],
      condition: [{ test: 'StringEquals', variable: 'iam:PassedToService', values: ['ec2.amazonaws.com'] }],
    });
    expect(statements.flatMap((s: { actions: string[] }) => s.actions)).not.toContain('ec2:StopInstances');
  });

  test('the head publishes its idle verdict only into its own namespace: the box\'s statement, shared', () => {
    const publish = statementsOf(json, 'head').find((s: { sid: string }) => s.sid === 'PublishOwnIdleVerdict');
    expect(publish).toEqual({
      sid: 'PublishOwnIdleVerdict',
      actions: ['cloudwatch:PutMetricData'],
      resources: ['*'],
      condition: [{ test: 'StringEquals', variable: 'cloudwatch:namespace', values: ['TrainiumSpot/Idle/$${ec2:SourceInstanceARN}'] }],
    });
    const box = synthesizeJson({});
    const boxPublish = JSON.stringify(Object.values(box.data.aws_iam_policy_document as Record<string, any>).find((d) => d.statement[0].actions?.[0] === 'cloudwatch:PutMetricData').statement[0]);
    expect(JSON.stringify({ ...publish, sid: undefined })).toBe(boxPublish);
    expect(statementsOf(json, 'node').flatMap((s: { actions: string[] }) => s.actions)).not.toContain('cloudwatch:PutMetricData');
    const quiet = synthesizeClusterJson({ ...spot, idle: { publishVerdict: false } });
    expect(statementsOf(quiet, 'head').map((s: { sid: string }) => s.sid)).not.toContain('PublishOwnIdleVerdict');
  });

  test('neither role reads a parameter but the munge key, which only the head writes', () => {
    for (const kind of ['head', 'node'] as const) {
      const statements = statementsOf(json, kind);
      expect(statements[0]).toMatchObject({ effect: 'Deny', actions: expect.arrayContaining(['ssm:GetParameter', 'ssm:GetParametersByPath']) });
      expect(statements[0].not_resources).toEqual([expect.stringMatching(/:parameter\/trainium-spot\/trainium-spot\/cluster\/munge-key$/)]);
    }
    expect(statementsOf(json, 'node').flatMap((s: { actions: string[] }) => s.actions)).not.toContain('ssm:PutParameter');
    const key = onlyBlock(json.resource, 'aws_ssm_parameter');
    expect(key).toMatchObject({ type: 'SecureString', lifecycle: { ignore_changes: ['value'] } });
    expect(key.value).not.toMatch(/[A-Za-z0-9+/]{40}/);
  });
});

describe('the cluster network', () => {
  const json = synthesizeClusterJson(spot);

  test('members reach each other on every port (EFA), nothing from outside reaches in', () => {
    const ingress = blocksOf(json, 'aws_vpc_security_group_ingress_rule');
    expect(ingress).toHaveLength(1);
    expect(ingress[0]).toMatchObject({ ip_protocol: '-1', referenced_security_group_id: expect.stringMatching(/^\$\{aws_security_group\./) });
    expect(ingress[0]).not.toHaveProperty('cidr_ipv4');
  });

  test('the nodes have no public IP and go out through the head, whose source/destination check is off', () => {
    const subnets = blocksOf(json, 'aws_subnet');
    expect(subnets.map((s) => s.map_public_ip_on_launch).sort()).toEqual([false, true]);
    const nodeRoute = blocksOf(json, 'aws_route').find((r) => r.network_interface_id !== undefined)!;
    expect(nodeRoute).toMatchObject({ destination_cidr_block: '0.0.0.0/0', network_interface_id: expect.stringMatching(/aws_instance\.head_instance_[^.]+\.primary_network_interface_id/) });
    expect(onlyBlock(json.resource, 'aws_instance')).toMatchObject({ source_dest_check: false, metadata_options: { http_tokens: 'required' } });
    expect(blocksOf(json, 'aws_nat_gateway')).toHaveLength(0);
  });

  test('every cluster instance and volume carries the cluster tag', () => {
    expect(json.provider.aws[0].default_tags[0].tags).toMatchObject({ [CLUSTER_TAG_KEY]: 'trainium-spot', Project: 'trainium-spot' });
    expect(template(json).tag_specifications.map((t: { resource_type: string; tags: Record<string, string> }) => [t.resource_type, t.tags[CLUSTER_TAG_KEY]]))
      .toEqual([['instance', 'trainium-spot'], ['volume', 'trainium-spot'], ['network-interface', 'trainium-spot']]);
  });
});

describe('the head and its software', () => {
  const json = synthesizeClusterJson(spot);
  const documentContent = () => JSON.parse(onlyBlock(json.resource, 'aws_ssm_document').content.replace(/([$%])\1\{/g, '$1{'));
  /** A file the head document writes, as the head gets it. */
  const fileOf = (path: string) => {
    const line = (documentContent().mainSteps[0].inputs.runCommand as string[]).find((l) => l.startsWith(`file ${path} `))!;
    return gunzipSync(Buffer.from(line.split(' ')[3], 'base64')).toString('utf8');
  };

  test('the head has a fixed private IP, the 10th host of its subnet, which slurm.conf names with the EC2 host name it implies', () => {
    expect(onlyBlock(json.resource, 'aws_instance').private_ip).toBe('10.42.0.10');
    expect(json.output.head_private_ip.value).toBe('10.42.0.10');
    expect(fileOf('/etc/slurm/slurm.conf')).toContain('\nSlurmctldHost=ip-10-42-0-10(10.42.0.10)\n');
    expect(fileOf('/etc/slurm/slurm.conf')).toContain('\nNodeName=trainium-spot-[1-4] CPUs=128 RealMemory=524288 State=CLOUD\n');
    expect(fileOf('/etc/trainium-spot/cluster.conf')).toContain("\nTS_HEAD_HOST='10.42.0.10'\n");
    expect(fileOf('/etc/trainium-spot/cluster.conf')).toContain("\nTS_PLACEMENT_GROUP='trainium-spot-cluster'\n");
  });

  test('the association runs the document on the head\'s own tag, which no compute node carries', () => {
    const association = onlyBlock(json.resource, 'aws_ssm_association');
    expect(association).toMatchObject({
      association_name: 'trainium-spot-cluster-head-agent',
      targets: [{ key: `tag:${HEAD_TAG_KEY}`, values: ['trainium-spot'] }],
      parameters: {
        documentHash: expect.stringMatching(/^[0-9a-f]{64}$/),
        instanceArnPrefix: 'arn:${data.aws_partition.partition.partition}:ec2:us-east-2:${data.aws_caller_identity.caller.account_id}:instance/',
        sharedStorageSource: expect.stringMatching(/^\$\{aws_efs_file_system\.[^.]+\.dns_name\}:\/$/),
      },
      schedule_expression: 'rate(30 minutes)',
    });
    expect(onlyBlock(json.resource, 'aws_instance').tags).toMatchObject({ [HEAD_TAG_KEY]: 'trainium-spot', [CLUSTER_TAG_KEY]: 'trainium-spot' });
    for (const spec of template(json).tag_specifications) expect(spec.tags).not.toHaveProperty(HEAD_TAG_KEY);
    expect(json.provider.aws[0].default_tags[0].tags).not.toHaveProperty(HEAD_TAG_KEY);
  });

  test('the head document of the default cluster is 44,637 bytes, 68.1 % of the 64 KB SSM allows (bound: 44,700)', () => {
    const size = Buffer.byteLength(JSON.stringify(documentContent()), 'utf8');
    expect(size).toBeLessThan(44_700);
    // A quarter of the limit at least is left for settings (long process patterns).
    expect(size / SSM_DOCUMENT_LIMIT_BYTES).toBeLessThan(0.75);
  });

  test('the head document holds the idle check with the slurm detector on, and mounts /shared with the storage\'s type', () => {
    const conf = fileOf('/etc/trainium-spot/idle.conf');
    expect(conf).toMatch(/^DETECT_SLURM=true$/m);
    expect(conf).toMatch(/^IDLE_MINUTES=3$/m);
    expect(fileOf('/usr/local/sbin/trainium-spot-idle')).toContain('SINFO_ARGS=(');
    const runs = (documentContent().mainSteps[0].inputs.runCommand as string[]).filter((l) => l.startsWith('run '));
    expect(runs).toContain('run /usr/local/lib/trainium-spot/slurm/mount-shared.sh efs {{ sharedStorageSource }} /shared');
    const lustre = synthesizeClusterJson({ cluster: { nodes: 2, sharedStorage: { type: 'fsx-lustre', storageCapacityGiB: 1200 } } });
    expect(onlyBlock(lustre.resource, 'aws_ssm_association').parameters.sharedStorageSource)
      .toMatch(/^\$\{aws_fsx_lustre_file_system\.[^.]+\.dns_name\}@tcp:\/\$\{aws_fsx_lustre_file_system\.[^.]+\.mount_name\}$/);
  });

  test('the backstop watches the head: its alarms and stop rule target the head instance, whose role may stop only the head', () => {
    const headId = expect.stringMatching(/^\$\{try\(\[aws_instance\.head_instance_[^.]+\.id\]\[count\.index\], ""\)\}$/);
    const alarms = blocksOf(json, 'aws_cloudwatch_metric_alarm');
    expect(alarms.map((a) => a.alarm_name).sort()).toEqual(
      ['low-cpu', 'silent', 'stopped', 'verdict'].map((k) => `trainium-spot-head-\${count.index}-${k}`));
    for (const alarm of alarms) expect(alarm).toMatchObject({ count: 1, dimensions: { InstanceId: headId } });
    const verdict = alarms.find((a) => a.alarm_name.endsWith('-verdict'))!;
    expect(verdict.namespace).toMatch(/^TrainiumSpot\/Idle\/arn:\$\{data\.aws_partition\.partition\.partition\}:ec2:us-east-2:\$\{data\.aws_caller_identity\.caller\.account_id\}:instance\/\$\{try\(\[aws_instance\.head_instance/);
    // m7i.large: 0.5 busy vCPU of 2 is 25 %.
    expect(alarms.find((a) => a.alarm_name.endsWith('-low-cpu'))!.threshold).toBe(25);
    expect(onlyBlock(json.resource, 'aws_cloudwatch_event_rule').count).toBe(1);
    expect(onlyBlock(json.resource, 'aws_cloudwatch_event_target').input).toMatch(/^\$\{jsonencode\(\{ InstanceId = \[try\(\[aws_instance\.head_instance_[^.]+\.id\]\[count\.index\], ""\)\] \}\)\}$/);
    const stop = Object.values(json.data.aws_iam_policy_document as Record<string, any>).flatMap((d) => d.statement).find((st) => st.sid === 'StopThisStacksBoxesOnly');
    expect(stop.condition).toEqual(expect.arrayContaining([
      { test: 'StringEquals', variable: `aws:ResourceTag/${HEAD_TAG_KEY}`, values: ['trainium-spot'] },
      { test: 'StringEquals', variable: `aws:ResourceTag/${CLUSTER_TAG_KEY}`, values: ['trainium-spot'] },
    ]));
    const off = synthesizeClusterJson({ ...spot, idleAlarm: { enabled: false } });
    expect(off.resource.aws_cloudwatch_metric_alarm).toBeUndefined();
    expect(off.resource.aws_cloudwatch_event_rule).toBeUndefined();
  });

  test('a Capacity Block head gets the reservation and no placement group in cluster.conf', () => {
    const block = synthesizeClusterJson({ cluster: { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0' } });
    const content = JSON.parse(onlyBlock(block.resource, 'aws_ssm_document').content.replace(/([$%])\1\{/g, '$1{'));
    const line = (content.mainSteps[0].inputs.runCommand as string[]).find((l) => l.startsWith('file /etc/trainium-spot/cluster.conf '))!;
    const conf = gunzipSync(Buffer.from(line.split(' ')[3], 'base64')).toString('utf8');
    expect(conf).toContain("\nTS_CAPACITY_RESERVATION_ID='cr-0123456789abcdef0'\n");
    expect(conf).toContain("\nTS_PLACEMENT_GROUP=''\n");
  });
});
