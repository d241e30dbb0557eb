/** The head's software (src/cluster/head-agent.ts): what its State Manager document installs, and the head's address. */
import { createHash } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { SSM_DOCUMENT_LIMIT_BYTES } from '../../src/catalog';
import { ec2IpHostname, HEAD_PACKAGES, HeadAgentProps, headPrivateIp, renderHeadAgentDocument } from '../../src/cluster/head-agent';
import { CLUSTER_PROGRAMS_DIR } from '../../src/cluster/slurm';
import { parseConfig } from '../../src/config';
import { renderAgentDocument } from '../../src/userdata/agent';
import { readShippedCopy, readUserdataFile } from '../../src/userdata/files';

const IDLE = parseConfig({}).idle;
/** A program's code: its lines but the comment lines, which the shipped copy leaves out (shippedCopy). */
const codeLines = (text: string) => text.split('\n').filter((line) => !/^\s*#/.test(line));
const PROPS: HeadAgentProps = {
  name: 'lab', slurmConf: 'ClusterName=lab\n', clusterConf: "TS_CLUSTER_NAME='lab'\n", nodeSubnetCidr: '10.42.16.0/20',
  region: 'us-east-2', idle: IDLE, sharedStorageType: 'efs',
};

/** The files a manifest writes, by path: mode and content. */
function writtenBy(manifest: string[]): Record<string, { mode: string; content: string }> {
  return Object.fromEntries(manifest.filter((l) => l.startsWith('file ')).map((l) => {
    const [, path, mode, data] = l.split(' ');
    return [path, { mode, content: gunzipSync(Buffer.from(data, 'base64')).toString('utf8') }];
  }));
}

/** The manifest the document's command hands the installer, one instruction a line. */
function manifestOf(command: string): string[] {
  const lines = command.split('\n');
  return lines.slice(lines.indexOf('cat >"$work/manifest" <<\'TRAINIUM_SPOT_MANIFEST\'') + 1, lines.indexOf('TRAINIUM_SPOT_MANIFEST'));
}

describe('renderHeadAgentDocument', () => {
  const document = renderHeadAgentDocument(PROPS);
  const manifest = manifestOf(document.command);

  test('installs Slurm\'s controller, its client and munge from the archive before anything else', () => {
    expect(manifest[1]).toBe('apt munge slurmctld slurm-client iptables curl unzip');
    expect(HEAD_PACKAGES).toEqual(expect.arrayContaining(['slurmctld', 'slurm-client', 'munge']));
  });

  test('writes slurm.conf, cluster.conf, the reconcile timer and the NAT byte for byte, the head\'s programs without their comment lines', () => {
    const written = writtenBy(manifest);
    expect(written['/etc/slurm/slurm.conf']).toEqual({ mode: '0644', content: PROPS.slurmConf });
    expect(written['/etc/trainium-spot/cluster.conf']).toEqual({ mode: '0644', content: PROPS.clusterConf });
    for (const program of ['resume.sh', 'suspend.sh', 'resume-fail.sh', 'reconcile.sh', 'munge-key.sh', 'nat.sh', 'aws-cli.sh', 'mount-shared.sh', 'lib.sh', 'setup-lib.sh']) {
      const { mode, content } = written[`${CLUSTER_PROGRAMS_DIR}/${program}`];
      expect([program, mode]).toEqual([program, program.endsWith('lib.sh') ? '0644' : '0755']);
      expect(content).toBe(readShippedCopy(`cluster/${program}`));
      expect(codeLines(content)).toEqual(codeLines(readUserdataFile(`cluster/${program}`)));
    }
    expect(written['/etc/systemd/system/trainium-spot-slurm-reconcile.timer'].content).toBe(readUserdataFile('cluster/trainium-spot-slurm-reconcile.timer'));
    expect(written[`${CLUSTER_PROGRAMS_DIR}/node-bootstrap.sh`]).toBeUndefined();
    expect(written['/etc/systemd/system/trainium-spot-nat.service'].content).toContain(`ExecStart=${CLUSTER_PROGRAMS_DIR}/nat.sh 10.42.16.0/20\n`);
    expect(document.files.map((f) => f.path)).toEqual(Object.keys(written));
  });

  test('enables slurmctld, the reconcile timer, the NAT and the idle check; then AWS\'s CLI, /shared and the munge key, in that order', () => {
    expect(manifest.filter((l) => /^(unit|run|aws|instance-arn-prefix) /.test(l))).toEqual([
      'unit slurmctld.service enable /etc/slurm/slurm.conf',
      'unit trainium-spot-slurm-reconcile.timer enable /etc/systemd/system/trainium-spot-slurm-reconcile.timer',
      `unit trainium-spot-nat.service enable ${CLUSTER_PROGRAMS_DIR}/nat.sh /etc/systemd/system/trainium-spot-nat.service`,
      'unit trainium-spot-idle.timer enable /etc/systemd/system/trainium-spot-idle.timer',
      'unit trainium-spot-neuron-monitor.service enable /etc/systemd/system/trainium-spot-neuron-monitor.service /etc/trainium-spot/neuron-monitor.json',
      'instance-arn-prefix /etc/trainium-spot/instance-arn-prefix',
      `run ${CLUSTER_PROGRAMS_DIR}/aws-cli.sh`,
      `run ${CLUSTER_PROGRAMS_DIR}/mount-shared.sh efs {{ sharedStorageSource }} /shared`,
      `run ${CLUSTER_PROGRAMS_DIR}/munge-key.sh --generate`,
      'aws required',
    ]);
  });

  test('installs the box\'s idle check, as the box has it, with the config\'s idle settings and the slurm detector on', () => {
    const written = writtenBy(manifest);
    expect(written['/usr/local/sbin/trainium-spot-idle']).toEqual({ mode: '0755', content: readShippedCopy('idle-check.sh') });
    expect(codeLines(written['/usr/local/sbin/trainium-spot-idle'].content)).toEqual(codeLines(readUserdataFile('idle-check.sh')));
    const conf = written['/etc/trainium-spot/idle.conf'].content;
    expect(conf).toMatch(/^DETECT_SLURM=true$/m);
    expect(conf).toMatch(/^IDLE_MINUTES=3$/m);
    expect(conf).toMatch(/^PUBLISH_VERDICT=true$/m);
    expect(conf).toContain("AWS_REGION_NAME='us-east-2'");
    // The box's idle files, the same paths and (but for idle.conf) the same bytes: one idle check, not a copy.
    const box = renderAgentDocument({ name: 'lab', region: 'us-east-2', idle: IDLE });
    for (const file of box.files) {
      if (file.path === '/etc/trainium-spot/idle.conf') continue;
      expect(written[file.path]).toEqual({ mode: file.mode, content: file.content });
    }
    expect(box.files.find((f) => f.path === '/etc/trainium-spot/idle.conf')!.content).toMatch(/^DETECT_SLURM=false$/m);
  });

  test('with idle.enabled false, the idle check is off and taken off a head that had it', () => {
    const off = manifestOf(renderHeadAgentDocument({ ...PROPS, idle: { ...IDLE, enabled: false } }).command);
    expect(off).toContain('unit trainium-spot-idle.timer absent');
    expect(off).toContain('remove /usr/local/sbin/trainium-spot-idle');
    expect(off).toContain('remove /etc/trainium-spot/instance-arn-prefix');
    expect(writtenBy(off)['/etc/trainium-spot/idle.conf']).toBeUndefined();
  });

  test('a Command document that takes its hash, the instance ARN prefix and the storage source, with 30 minutes for packages and downloads', () => {
    const content = JSON.parse(document.content);
    expect(Object.keys(content.parameters)).toEqual(['documentHash', 'instanceArnPrefix', 'sharedStorageSource']);
    expect(content.parameters.instanceArnPrefix.allowedPattern).toBe('^arn:aws(-[a-z]+)*:ec2:us-east-2:[0-9]{12}:instance/$');
    expect(content.parameters.instanceArnPrefix.default).toBeUndefined();
    const source = new RegExp(content.parameters.sharedStorageSource.allowedPattern);
    expect(source.test('fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/')).toBe(true);
    expect(source.test('fs-0123456789abcdef0.efs.us-east-2.amazonaws.com:/; reboot')).toBe(false);
    expect(source.test('fs-0.fsx.us-east-2.amazonaws.com@tcp:/abcdefgh')).toBe(false);
    const lustre = JSON.parse(renderHeadAgentDocument({ ...PROPS, sharedStorageType: 'fsx-lustre' }).content);
    expect(new RegExp(lustre.parameters.sharedStorageSource.allowedPattern).test('fs-0.fsx.us-east-2.amazonaws.com@tcp:/abcdefgh')).toBe(true);
    expect(content.mainSteps[0].inputs.timeoutSeconds).toBe('1800');
    // install-agent.sh MANIFEST DOCUMENT_HASH PUBLIC_KEY INSTANCE_ARN_PREFIX: no key on the head.
    expect(document.command.trimEnd().split('\n').pop())
      .toBe('bash "$work/install-agent.sh" "$work/manifest" \'{{ documentHash }}\' \'\' \'{{ instanceArnPrefix }}\'');
  });

  test('is 42.7 KB or less (measured 42,645 bytes with the default idle settings), under 66 % of the 64 KB SSM allows', () => {
    const size = Buffer.byteLength(document.content, 'utf8');
    expect(size).toBeLessThanOrEqual(42_700);
    expect(size / SSM_DOCUMENT_LIMIT_BYTES).toBeLessThan(0.66);
  });

  test('idle.processPatterns that make the document too big are a config error naming them', () => {
    // Hashes, which gzip cannot shrink much: idle.conf holds the patterns as they are.
    const patterns = Array.from({ length: 600 }, (_, i) => createHash('sha256').update(String(i)).digest('hex'));
    expect(() => renderHeadAgentDocument({ ...PROPS, idle: { ...IDLE, processPatterns: patterns } }))
      .toThrow(/^idle\.processPatterns \(600 patterns, 38400 characters\) make the cluster head agent's SSM document \d+ bytes; SSM allows 65536/);
  });

  test('fails when the node subnet is not a CIDR block', () => {
    expect(() => renderHeadAgentDocument({ ...PROPS, nodeSubnetCidr: '10.42.16.0/20; reboot' })).toThrow(/^nodeSubnetCidr: got /);
    expect(() => renderHeadAgentDocument({ ...PROPS, nodeSubnetCidr: '10.42.316.0/20' })).toThrow(/^nodeSubnetCidr: got "10\.42\.316\.0\/20"; an IPv4 CIDR block$/);
  });
});

describe('the head\'s address', () => {
  test('is the 10th host of its subnet, and its EC2 host name follows from it', () => {
    expect(headPrivateIp('10.42.0.0/24')).toBe('10.42.0.10');
    expect(headPrivateIp('172.31.255.240/28')).toBe('172.31.255.250');
    expect(ec2IpHostname('10.42.0.10')).toBe('ip-10-42-0-10');
  });

  test('fails when the subnet is too small to hold the 10th host below its reserved last address', () => {
    expect(() => headPrivateIp('10.42.0.0/29')).toThrow('the head\'s subnet 10.42.0.0/29 has no host 10');
  });
});
