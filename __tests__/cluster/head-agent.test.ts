/** The head's software (src/cluster/head-agent.ts): what its State Manager document installs, and the head's address. */
import { gunzipSync } from 'node:zlib';
import { SSM_DOCUMENT_LIMIT_BYTES } from '../../src/catalog';
import { ec2IpHostname, HEAD_PACKAGES, headPrivateIp, renderHeadAgentDocument } from '../../src/cluster/head-agent';
import { CLUSTER_PROGRAMS_DIR } from '../../src/cluster/slurm';

const PROPS = { name: 'lab', slurmConf: 'ClusterName=lab\n', clusterConf: "TS_CLUSTER_NAME='lab'\n", nodeSubnetCidr: '10.42.16.0/20' };

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

  test('writes slurm.conf, cluster.conf, the head\'s programs, the reconcile timer and the NAT, byte for byte', () => {
    const written = Object.fromEntries(manifest.filter((l) => l.startsWith('file ')).map((l) => {
      const [, path, mode, data] = l.split(' ');
      return [path, { mode, content: gunzipSync(Buffer.from(data, 'base64')).toString('utf8') }];
    }));
    expect(written['/etc/slurm/slurm.conf']).toEqual({ mode: '0644', content: PROPS.slurmConf });
    expect(written['/etc/trainium-spot/cluster.conf']).toEqual({ mode: '0644', content: PROPS.clusterConf });
    for (const program of ['resume.sh', 'suspend.sh', 'resume-fail.sh', 'reconcile.sh', 'munge-key.sh', 'nat.sh', 'aws-cli.sh']) {
      expect(written[`${CLUSTER_PROGRAMS_DIR}/${program}`].mode).toBe('0755');
    }
    expect(written[`${CLUSTER_PROGRAMS_DIR}/lib.sh`].mode).toBe('0644');
    expect(written[`${CLUSTER_PROGRAMS_DIR}/node-bootstrap.sh`]).toBeUndefined();
    expect(written['/etc/systemd/system/trainium-spot-nat.service'].content).toContain(`ExecStart=${CLUSTER_PROGRAMS_DIR}/nat.sh 10.42.16.0/20\n`);
    expect(document.files.map((f) => f.path)).toEqual(Object.keys(written));
  });

  test('enables slurmctld (restarted by a new slurm.conf), the reconcile timer and the NAT; then AWS\'s CLI and the munge key', () => {
    expect(manifest.filter((l) => /^(unit|run|aws) /.test(l))).toEqual([
      'unit slurmctld.service enable /etc/slurm/slurm.conf',
      'unit trainium-spot-slurm-reconcile.timer enable /etc/systemd/system/trainium-spot-slurm-reconcile.timer',
      `unit trainium-spot-nat.service enable ${CLUSTER_PROGRAMS_DIR}/nat.sh /etc/systemd/system/trainium-spot-nat.service`,
      `run ${CLUSTER_PROGRAMS_DIR}/aws-cli.sh`,
      `run ${CLUSTER_PROGRAMS_DIR}/munge-key.sh --generate`,
      'aws required',
    ]);
  });

  test('a Command document that passes the installer its hash only, with 30 minutes for packages and downloads', () => {
    const content = JSON.parse(document.content);
    expect(Object.keys(content.parameters)).toEqual(['documentHash']);
    expect(content.mainSteps[0].inputs.timeoutSeconds).toBe('1800');
    expect(document.command.trimEnd().split('\n').pop()).toBe('bash "$work/install-agent.sh" "$work/manifest" \'{{ documentHash }}\'');
  });

  test('is 35.8 KB or less, under 56 % of the 64 KB SSM allows', () => {
    const size = Buffer.byteLength(document.content, 'utf8');
    expect(size).toBeLessThanOrEqual(36_700);
    expect(size / SSM_DOCUMENT_LIMIT_BYTES).toBeLessThan(0.56);
  });

  test('fails when the node subnet is not a CIDR block', () => {
    expect(() => renderHeadAgentDocument({ ...PROPS, nodeSubnetCidr: '10.42.16.0/20; reboot' })).toThrow(/^nodeSubnetCidr: got /);
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
