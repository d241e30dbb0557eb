/** The compute node's user data: what the launch template carries, what it decodes to, and its size bound. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { Testing, TerraformStack } from 'cdktf';
import { parse } from 'yaml';
import { USER_DATA_LIMIT_BYTES } from '../../src/catalog';
import { EXPRESSION_MAX_BYTES, NODE_GUARD_UNITS, nodeUserDataBoundBytes, renderNodeUserData, type NodeUserDataProps } from '../../src/cluster/node-user-data';
import { MUNGE_KEY_UNSET } from '../../src/constructs/munge-key';
import { NodeLaunchTemplate, terraformUserData } from '../../src/constructs/node-launch-template';
import { shippedCopy } from '../../src/userdata/files';
import { onlyBlock, synthesizeClusterJson } from '../support/synth';

const ROOT = path.resolve(__dirname, '../..');
const EFS = 'fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/';
const props: NodeUserDataProps = {
  cluster: { name: 'lab', clusterName: 'lab', region: 'us-east-2', market: 'spot', headHost: '10.42.0.10' },
  mungeKeyParameterName: '/trainium-spot/lab/cluster/munge-key',
  mungeKeyUnset: MUNGE_KEY_UNSET,
  sharedStorage: { type: 'efs', mountSource: EFS },
};

interface CloudConfig {
  write_files: { path: string; permissions: string; encoding?: string; content: string }[];
  runcmd: string[][];
}
const cloudConfig = (text: string) => parse(text) as CloudConfig;
const fileOf = (config: CloudConfig, file: string) => {
  const entry = config.write_files.find((f) => f.path === file);
  if (!entry) throw new Error(`no ${file} in write_files`);
  return entry.encoding === 'gz+b64' ? gunzipSync(Buffer.from(entry.content, 'base64')).toString('utf8') : entry.content;
};
/** `KEY='value'` lines of a cluster.conf. */
const settings = (conf: string) => Object.fromEntries([...conf.matchAll(/^(TS_[A-Z_]+)='([^']*)'$/gm)].map((m) => [m[1], m[2]]));

/** The launch template of a stack holding only it, with a literal head address and mount source. */
function launchTemplateWith(over: Partial<ConstructorParameters<typeof NodeLaunchTemplate>[2]> = {}) {
  const app = Testing.app();
  const stack = new TerraformStack(app, 'nodes');
  new NodeLaunchTemplate(stack, 'nodes', {
    name: 'lab', instanceType: 'trn1.32xlarge', imageId: 'ami-0123456789abcdef0', rootVolumeSizeGiB: 200, efaNetworkCards: 8,
    subnetId: 'subnet-1', securityGroupId: 'sg-1', instanceProfileName: 'lab-node', market: 'spot', tags: {}, preconditions: [],
    region: 'us-east-2', headAddress: '10.42.0.10', mungeKeyParameterName: props.mungeKeyParameterName, mungeKeyUnset: MUNGE_KEY_UNSET,
    sharedStorage: { type: 'efs', mountSource: EFS },
    ...over,
  });
  return onlyBlock(JSON.parse(Testing.synth(stack)).resource, 'aws_launch_template');
}

describe('the node launch template carries the node bootstrap', () => {
  test('known at synth: base64 of a cloud-config that writes cluster.conf with the head address and the key parameter', () => {
    // WHEN
    const template = launchTemplateWith();
    // THEN
    const text = Buffer.from(template.user_data as string, 'base64').toString('utf8');
    expect(text.startsWith('#cloud-config\n')).toBe(true);
    const config = cloudConfig(text);
    expect(settings(fileOf(config, '/etc/trainium-spot/cluster.conf'))).toMatchObject({
      TS_HEAD_HOST: '10.42.0.10',
      TS_REGION: 'us-east-2',
      TS_NODE_TAG_KEY: 'slurm:node',
      TS_MUNGE_KEY_PARAMETER: '/trainium-spot/lab/cluster/munge-key',
      TS_MUNGE_KEY_UNSET: MUNGE_KEY_UNSET,
      TS_SHARED_STORAGE_TYPE: 'efs',
      TS_SHARED_STORAGE_SOURCE: EFS,
      TS_NODE_ORPHAN_MINUTES: '20',
    });
    expect(config.runcmd).toEqual([['/usr/local/lib/trainium-spot/slurm/node-setup.sh']]);
    // AND under EC2's limit
    expect(Buffer.byteLength(text)).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
  });

  test('the programs are the files of src/userdata/cluster, every line of code byte for byte, with their modes', () => {
    const config = cloudConfig(renderNodeUserData(props));
    const dir = '/usr/local/lib/trainium-spot/slurm';
    const code = (text: string) => text.split('\n').filter((line) => !/^\s*#/.test(line));
    for (const program of ['node-setup.sh', 'setup-lib.sh', 'mount-shared.sh', 'munge-key.sh', 'node-bootstrap.sh', 'node-guard.sh']) {
      const source = fs.readFileSync(path.join(ROOT, 'src/userdata/cluster', program), 'utf8');
      const copy = fileOf(config, `${dir}/${program}`);
      expect(copy).toBe(shippedCopy(`cluster/${program}`, source));
      expect(code(copy)).toEqual(code(source));
      const shebang = source.startsWith('#!') ? [source.split('\n')[0]] : [];
      expect(copy.split('\n').slice(0, shebang.length + 1)).toEqual([...shebang, `# ${program}: from trainium-spot, documented in src/userdata/cluster/${program}`]);
      expect(config.write_files.find((f) => f.path === `${dir}/${program}`)!.permissions).toBe('0755');
    }
    const unit = fileOf(config, '/etc/systemd/system/trainium-spot-slurmd.service');
    expect(unit).toMatch(/^ExecStart=\/usr\/local\/lib\/trainium-spot\/slurm\/node-bootstrap\.sh -D$/m);
    expect(unit).toMatch(/^Restart=on-failure$/m);
    expect(fileOf(config, '/etc/profile.d/trainium-spot-efa.sh')).toMatch(/^export FI_PROVIDER="\$\{FI_PROVIDER:-efa\}"$/m);
  });

  test('the orphan guard: its service runs node-guard.sh once, its timer every minute from boot, and node-setup starts it first', () => {
    const config = cloudConfig(renderNodeUserData(props));
    const service = fileOf(config, `/etc/systemd/system/${NODE_GUARD_UNITS.service}`);
    expect(service).toMatch(/^Type=oneshot$/m);
    expect(service).toMatch(/^ExecStart=\/usr\/local\/lib\/trainium-spot\/slurm\/node-guard\.sh$/m);
    expect(service).toMatch(/^TimeoutStartSec=90$/m);
    const timer = fileOf(config, `/etc/systemd/system/${NODE_GUARD_UNITS.timer}`);
    expect(timer).toMatch(/^OnBootSec=1min$/m);
    expect(timer).toMatch(/^OnUnitActiveSec=1min$/m);
    expect(timer).toMatch(/^WantedBy=timers\.target$/m);
    for (const unit of Object.values(NODE_GUARD_UNITS)) {
      expect(config.write_files.find((f) => f.path === `/etc/systemd/system/${unit}`)!.permissions).toBe('0644');
    }
    const setup = fileOf(config, '/usr/local/lib/trainium-spot/slurm/node-setup.sh');
    expect(setup.indexOf('step guard start_guard')).toBeGreaterThan(0);
    expect(setup.indexOf('step guard start_guard')).toBeLessThan(setup.indexOf('step packages install_packages'));
  });

  test('a shutdown from inside the node terminates its instance, in every market', () => {
    for (const market of ['spot', 'on-demand', 'capacity-block'] as const) {
      const template = launchTemplateWith(market === 'capacity-block'
        ? { market, capacityReservationId: 'cr-0123456789abcdef0' } : { market });
      expect(template.instance_initiated_shutdown_behavior).toBe('terminate');
    }
  });

  test('the orphan limit reaches cluster.conf', () => {
    const template = launchTemplateWith({ nodeOrphanMinutes: 45 });
    const conf = settings(fileOf(cloudConfig(Buffer.from(template.user_data as string, 'base64').toString('utf8')), '/etc/trainium-spot/cluster.conf'));
    expect(conf.TS_NODE_ORPHAN_MINUTES).toBe('45');
  });

  test('in the cluster stack: Terraform encodes it, with the head\'s private IP and the file system\'s DNS name as expressions', () => {
    // GIVEN the default cluster (EFS)
    const json = synthesizeClusterJson({ cluster: {} });
    // WHEN
    const userData = onlyBlock(json.resource, 'aws_launch_template').user_data as string;
    // THEN one base64encode of a string whose only expressions are the two plan-time values
    const call = /^\$\{base64encode\("(.*)"\)\}$/s.exec(userData);
    expect(call).not.toBeNull();
    const inner = JSON.parse(`"${call![1]}"`) as string;
    expect(inner.match(/\$\{[^}]*\}/g)).toEqual([
      expect.stringMatching(/^\$\{aws_efs_file_system\.shared-storage_efs_[A-Z0-9]+\.dns_name\}$/),
    ]);
    expect(inner).not.toContain('$${');
    // AND with values put in, it is the node's cloud-config, under the bound
    const filled = inner.replace(/\$\{aws_efs[^}]*\}/, EFS.slice(0, -2));
    const conf = settings(fileOf(cloudConfig(filled), '/etc/trainium-spot/cluster.conf'));
    expect(conf).toMatchObject({ TS_HEAD_HOST: '10.42.0.10', TS_SHARED_STORAGE_SOURCE: EFS, TS_MUNGE_KEY_PARAMETER: '/trainium-spot/trainium-spot/cluster/munge-key' });
    expect(nodeUserDataBoundBytes(inner)).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES);
  });

  test('FSx for Lustre: the source is the DNS name and mount name, both expressions', () => {
    const json = synthesizeClusterJson({ cluster: { sharedStorage: { type: 'fsx-lustre', storageCapacityGiB: 1200 } } });
    const inner = JSON.parse(`"${/^\$\{base64encode\("(.*)"\)\}$/s.exec(onlyBlock(json.resource, 'aws_launch_template').user_data as string)![1]}"`) as string;
    expect(inner).toMatch(/^      TS_SHARED_STORAGE_TYPE='fsx-lustre'$/m);
    expect(inner).toMatch(/^      TS_SHARED_STORAGE_SOURCE='\$\{aws_fsx_lustre_file_system\.[^.]+\.dns_name\}@tcp:\/\$\{aws_fsx_lustre_file_system\.[^.]+\.mount_name\}'$/m);
  });
});

describe('the size bound', () => {
  test('each expression counts as a longest DNS name', () => {
    expect(nodeUserDataBoundBytes('ab${aws_x.y.z}c')).toBe(3 + EXPRESSION_MAX_BYTES);
    expect(nodeUserDataBoundBytes('abc')).toBe(3);
  });

  test('the worst case, every plan-time value a longest DNS name, is under EC2\'s 16 KB with room to spare', () => {
    const text = renderNodeUserData({ ...props,
      sharedStorage: { type: 'fsx-lustre', mountSource: '${aws_fsx_lustre_file_system.s.dns_name}@tcp:/${aws_fsx_lustre_file_system.s.mount_name}' } });
    const bound = nodeUserDataBoundBytes(text);
    expect(bound).toBeLessThanOrEqual(USER_DATA_LIMIT_BYTES - 2048);
  });
});

describe('terraformUserData', () => {
  test('text known at synth is base64 here; a raw reference stays an expression inside base64encode', () => {
    expect(terraformUserData('#cloud-config\n{}\n')).toBe(Buffer.from('#cloud-config\n{}\n').toString('base64'));
    const template = launchTemplateWith({ sharedStorage: { type: 'efs', mountSource: '${aws_efs_file_system.fs.dns_name}:/' } });
    expect(template.user_data).toMatch(/^\$\{base64encode\(".*TS_SHARED_STORAGE_SOURCE='\$\{aws_efs_file_system\.fs\.dns_name\}:\/'.*"\)\}$/s);
  });
});

describe('bad values', () => {
  test.each<[string, Partial<NodeUserDataProps>, RegExp]>([
    ['a parameter name with a quote', { mungeKeyParameterName: "/a'b" }, /^mungeKeyParameter: got "\/a'b"; an SSM parameter name: /],
    ['a mount source over two lines', { sharedStorage: { type: 'efs', mountSource: 'a:/\nb' } }, /^sharedStorage\.mountSource: got "a:\/\\nb"; a single line without single quotes$/],
    ['a head address that is no address', { cluster: { ...props.cluster, headHost: '10.0.0.1; reboot' } }, /^headHost: got "10\.0\.0\.1; reboot"; a host name or IP address$/],
  ])('fails when %s: one line naming the field', (_case, over, expected) => {
    expect(() => renderNodeUserData({ ...props, ...over })).toThrow(expected);
  });
});
