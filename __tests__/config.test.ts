import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { CONFIG_FILE_ENV, ConfigError, loadConfig, parseConfig } from '../src/config';

/** The one line a bad value produces, or a failure when the value is accepted. */
function problemWith(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}

describe('defaults', () => {
  test('an empty config is the seed box: one trn1.2xlarge on spot in use2-az3', () => {
    // WHEN
    const config = parseConfig({});
    // THEN
    expect(config).toMatchObject({
      name: 'trainium-spot',
      region: 'us-east-2',
      instanceType: 'trn1.2xlarge',
      market: 'spot',
      instanceCount: 1,
      availabilityZoneId: 'use2-az3',
      rootVolumeSizeExplicit: false,
      rootVolumeIops: 3000,
      rootVolumeThroughputMiBps: 125,
      sshCidrs: [],
      allowSshFromAnywhere: false,
      amiSsmParameter: '/aws/service/neuron/dlami/multi-framework/ubuntu-24.04/latest/image_id',
      idleAlarm: { enabled: true, silentMinutes: 10, lowCpuMinutes: 25, lowCpuBusyVcpus: 0.5 },
      backend: { type: 'local' },
      tags: {},
    });
    expect(config.rootVolumeSizeGiB).toBeUndefined();
  });

  test('CPU options default to the type defaults, since fewer cores save nothing', () => {
    expect(parseConfig({})).toMatchObject({ cpuCoreCount: 4, cpuThreadsPerCore: 2 });
    expect(parseConfig({ instanceType: 'inf2.xlarge' })).toMatchObject({ cpuCoreCount: 2, cpuThreadsPerCore: 2 });
  });

  test('the default AZ ID is the first one that offers the type in the region', () => {
    expect(parseConfig({ region: 'us-west-2' }).availabilityZoneId).toBe('usw2-az1');
    expect(parseConfig({ region: 'us-east-1' }).availabilityZoneId).toBe('use1-az5');
  });

  test('the result is frozen, nested objects too', () => {
    const config = parseConfig({ tags: { team: 'ml' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.idle.detectors)).toBe(true);
    expect(Object.isFrozen(config.tags)).toBe(true);
  });

  test('an explicit root volume size is marked as explicit', () => {
    expect(parseConfig({ rootVolumeSizeGiB: 200 })).toMatchObject({ rootVolumeSizeGiB: 200, rootVolumeSizeExplicit: true });
  });

  test('2 cores x 1 thread on demand and SSH from named networks are accepted', () => {
    const config = parseConfig({
      market: 'on-demand', cpuCoreCount: 2, cpuThreadsPerCore: 1, sshCidrs: ['203.0.113.7/32', '2001:db8::/64'],
    });
    expect(config).toMatchObject({ cpuCoreCount: 2, cpuThreadsPerCore: 1, sshCidrs: ['203.0.113.7/32', '2001:db8::/64'] });
  });

  test('SSH from anywhere is accepted only when asked for by name', () => {
    expect(parseConfig({ sshCidrs: ['0.0.0.0/0'], allowSshFromAnywhere: true }).sshCidrs).toEqual(['0.0.0.0/0']);
  });
});

describe('bad input: one line naming the key, the value and what is allowed', () => {
  test.each<[string, unknown, RegExp]>([
    ['unknown instance type', { instanceType: 'trn9.xlarge' },
      /^Invalid config: instanceType "trn9\.xlarge" is not a supported instance type; supported: trn1\.2xlarge, /],
    ['type not offered in the region', { region: 'eu-west-1' },
      /^Invalid config: region "eu-west-1" does not offer trn1\.2xlarge; regions that do: us-east-1, us-east-2, us-west-2$/],
    ['malformed region', { region: 'ohio' }, /^Invalid config: region "ohio" must be an AWS region code/],
    ['malformed AZ ID', { availabilityZoneId: 'us-east-2c' },
      /^Invalid config: availabilityZoneId "us-east-2c" must be an AZ ID such as use2-az3$/],
    ['AZ ID that does not offer the type', { availabilityZoneId: 'use2-az1' },
      /^Invalid config: availabilityZoneId "use2-az1" does not offer trn1\.2xlarge in us-east-2; AZ IDs that do: use2-az3$/],
    ['AZ ID of another region', { availabilityZoneId: 'usw2-az1' },
      /availabilityZoneId "usw2-az1" does not offer trn1\.2xlarge in us-east-2/],
    ['CPU options on the spot market, where EC2 cannot apply them', { cpuCoreCount: 2 },
      /^Invalid config: cpuCoreCount 2 cannot apply to market "spot": EC2 spot requests take no CPU options; use market "on-demand"/],
    ['invalid core count', { market: 'on-demand', cpuCoreCount: 8 }, /^Invalid config: cpuCoreCount 8 is not valid for trn1\.2xlarge; valid core counts: 1, 2, 3, 4$/],
    ['invalid threads per core', { market: 'on-demand', cpuThreadsPerCore: 4 }, /^Invalid config: cpuThreadsPerCore 4 is not valid for trn1\.2xlarge; valid: 1, 2$/],
    ['volume too large', { rootVolumeSizeGiB: 20000 }, /^Invalid config: rootVolumeSizeGiB 20000 must be a whole number from 1 to 16384 GiB$/],
    ['volume size not whole', { rootVolumeSizeGiB: 50.5 }, /^Invalid config: rootVolumeSizeGiB 50\.5 must be a whole number$/],
    ['IOPS below gp3 minimum', { rootVolumeIops: 100 }, /^Invalid config: rootVolumeIops 100 must be a whole number from 3000 to 16000 IOPS$/],
    ['IOPS above 500 per GiB', { rootVolumeIops: 16000, rootVolumeSizeGiB: 20 },
      /^Invalid config: rootVolumeIops 16000 exceeds the gp3 limit of 500 IOPS per GiB \(10000 for 20 GiB\)/],
    ['throughput above gp3 maximum', { rootVolumeThroughputMiBps: 2000 },
      /^Invalid config: rootVolumeThroughputMiBps 2000 must be a whole number from 125 to 1000 MiB\/s$/],
    ['throughput above 0.25 MiB/s per IOPS', { rootVolumeThroughputMiBps: 1000 },
      /rootVolumeThroughputMiBps 1000 exceeds the gp3 limit of 0\.25 MiB\/s per provisioned IOPS \(750 for 3000 IOPS\)/],
    ['malformed CIDR', { sshCidrs: ['10.0.0.300/32'] }, /^Invalid config: sshCidrs\.0 "10\.0\.0\.300\/32" is not a CIDR block/],
    ['CIDR with host bits', { sshCidrs: ['10.1.2.3/8'] }, /^Invalid config: sshCidrs\.0 "10\.1\.2\.3\/8" has host bits set; the network is 10\.0\.0\.0\/8$/],
    ['SSH from the IPv4 world', { sshCidrs: ['0.0.0.0/0'] }, /^Invalid config: sshCidrs\.0 "0\.0\.0\.0\/0" opens SSH to the whole internet or a large part of it; set allowSshFromAnywhere: true/],
    ['SSH from the IPv6 world', { sshCidrs: ['203.0.113.0/24', '::/0'] }, /^Invalid config: sshCidrs\.1 "::\/0" opens SSH to the whole internet/],
    ['SSH from half the IPv4 internet', { sshCidrs: ['0.0.0.0/1', '128.0.0.0/1'] },
      /^Invalid config: sshCidrs\.0 "0\.0\.0\.0\/1" opens SSH to the whole internet or a large part of it/],
    ['negative price', { spotMaxPricePerHour: -1 }, /^Invalid config: spotMaxPricePerHour -1 must be a price in USD per hour above 0$/],
    ['zero price', { spotMaxPricePerHour: 0 }, /^Invalid config: spotMaxPricePerHour 0 must be a price in USD per hour above 0$/],
    ['price above on-demand', { spotMaxPricePerHour: 2 },
      /^Invalid config: spotMaxPricePerHour 2 is above the on-demand price of trn1\.2xlarge \(\$1\.34375\/h\); allowed: above 0 and at most 1\.34375$/],
    ['unknown key (a typo)', { instanceTyp: 'trn1.2xlarge' }, /^Invalid config: unknown key "instanceTyp"; allowed: name, region, instanceType, /],
    ['unknown nested key', { idle: { checkIntervalSecs: 30 } }, /^Invalid config: unknown key "checkIntervalSecs" in idle; allowed: enabled, dryRun, checkIntervalSeconds/],
    ['wrong type', { instanceCount: 'two' }, /^Invalid config: instanceCount "two" must be a number$/],
    ['malformed subnet id', { subnetId: 'subnet-xyz' }, /^Invalid config: subnetId "subnet-xyz" must look like subnet-0123456789abcdef0$/],
    ['malformed public key', { sshPublicKey: 'hello' }, /^Invalid config: sshPublicKey "hello" must be an OpenSSH public key/],
    ['AWS-reserved tag key', { tags: { 'aws:owner': 'x' } }, /^Invalid config: tags .* has key "aws:owner"; tag keys are 1-128 characters and must not start with "aws:"$/],
    ['unknown market', { market: 'reserved' }, /^Invalid config: market "reserved" must be one of spot, on-demand, capacity-block, capacity-reservation, auto$/],
    ['capacity block without an id', { market: 'capacity-block', instanceType: 'trn1.32xlarge' },
      /^Invalid config: capacityReservationId \(missing\) is required when market is "capacity-block"/],
    ['malformed reservation id', { market: 'capacity-reservation', capacityReservationId: 'cr-12' },
      /^Invalid config: capacityReservationId "cr-12" must look like cr-0123456789abcdef0$/],
    ['capacity block for a type without blocks', { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' },
      /^Invalid config: market "capacity-block" "capacity-block" is not offered for trn1\.2xlarge; types with Capacity Blocks: trn1\.32xlarge/],
    ['reservation id with the spot market', { capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' },
      /^Invalid config: capacityReservationId "cr-0123456789abcdef0" only applies to market "capacity-block" or "capacity-reservation", not "spot"$/],
    ['instanceCount below 1', { instanceCount: 0 }, /^Invalid config: instanceCount 0 must be a whole number from 1 to 64$/],
    ['instanceCount above any quota', { instanceCount: 1000 }, /^Invalid config: instanceCount 1000 must be a whole number from 1 to 64$/],
    ['notifyEmail not an e-mail', { notifyEmail: 'ops' }, /^Invalid config: notifyEmail "ops" must be an e-mail address$/],
    ['S3 backend without a bucket', { backend: { type: 's3' } }, /^Invalid config: backend\.bucket \(missing\) is required$/],
    ['a process pattern spans two lines', { idle: { processPatterns: ['train', 'a\nb'] } },
      /^Invalid config: idle\.processPatterns\.1 "a\\nb" must be one line of printable characters$/],
    ['a reservation without the AZ it lives in', { market: 'capacity-reservation', capacityReservationId: 'cr-0123456789abcdef0' },
      /^Invalid config: availabilityZoneId \(missing\) is required with capacityReservationId: a reservation lives in one AZ/],
    ['idle minutes are negative', { idle: { idleMinutes: -5 } },
      /^Invalid config: idle\.idleMinutes -5 must be a whole number from 1 to 1440 minutes$/],
    ['a detector name is unknown', { idle: { detectors: { gpus: false } } },
      /^Invalid config: unknown key "gpus" in idle\.detectors; allowed: ssh, ssm, multiplexers, neuron, gpu, processes, cpu, disk, memory, network, keepalive, terminal$/],
    ['maxIdleSessionHours is negative', { idle: { maxIdleSessionHours: -1 } },
      /^Invalid config: idle\.maxIdleSessionHours -1 must be a whole number from 0 to 168 hours \(0: off\)$/],
    ['an ignore pattern spans two lines', { idle: { ignorePatterns: ['a\nb'] } },
      /^Invalid config: idle\.ignorePatterns\.0 "a\\nb" must be one line of printable characters$/],
    ['the backstop would call a short publishing outage silence', { idleAlarm: { silentMinutes: 2 } },
      /^Invalid config: idleAlarm\.silentMinutes 2 must be a whole number from 5 to 120 minutes$/],
    ['the low-CPU share is out of range', { idleAlarm: { lowCpuBusyVcpus: 0 } },
      /^Invalid config: idleAlarm\.lowCpuBusyVcpus 0 must be from 0\.05 to 4 vCPUs$/],
    ['a threshold too small for the idle check to tell from 0', { idle: { cpuThresholdPercent: 0.0005 } },
      /^Invalid config: idle\.cpuThresholdPercent 0\.0005 must be a percentage from 0\.001 to 100$/],
    ['a name too long for AWS name prefixes', { name: 'a'.repeat(31) },
      /^Invalid config: name "a{31}" must be 1-30 lowercase letters, digits or dashes, starting with a letter$/],
  ])('fails when %s', (_case, input, expected) => {
    const message = problemWith(input);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });
});

describe('sources: defaults < cdktf.json context < config file < env vars', () => {
  let dir: string;
  beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-config-')); });
  afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));
  const writeFile = (content: string) => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, content);
    return file;
  };

  test('context overrides defaults, the file overrides context, env vars override the file', () => {
    // GIVEN
    const context = { trainiumSpot: { region: 'us-west-2', rootVolumeSizeGiB: 80, idle: { idleMinutes: 4 } } };
    const file = writeFile(JSON.stringify({ rootVolumeSizeGiB: 120, idle: { bootGraceMinutes: 10 } }));
    // WHEN
    const config = loadConfig({ context, env: { [CONFIG_FILE_ENV]: file, TRAINIUM_SPOT_REGION: 'us-east-1' } });
    // THEN
    expect(config.region).toBe('us-east-1');
    expect(config.rootVolumeSizeGiB).toBe(120);
    expect(config.idle).toMatchObject({ idleMinutes: 4, bootGraceMinutes: 10, checkIntervalSeconds: 60 });
  });

  test('TF_CLOUD_ORGANIZATION and TF_WORKSPACE select the Terraform Cloud backend', () => {
    const config = loadConfig({ env: { TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'ml-box' } });
    expect(config.backend).toEqual({ type: 'cloud', organization: 'acme', workspace: 'ml-box', hostname: 'app.terraform.io' });
  });

  test('fails when the config file does not exist', () => {
    expect(() => loadConfig({ env: { [CONFIG_FILE_ENV]: path.join(dir, 'missing.json') } }))
      .toThrow(/^TRAINIUM_SPOT_CONFIG: ".*missing\.json" cannot be read; expected the path of a JSON config file$/);
  });

  test('fails when the config file is not JSON', () => {
    const file = writeFile('region: us-east-2\n');
    expect(() => loadConfig({ env: { [CONFIG_FILE_ENV]: file } })).toThrow(/^TRAINIUM_SPOT_CONFIG: ".*" is not valid JSON/);
  });

  test('fails when the config file holds a list, not an object', () => {
    const file = writeFile('[1, 2]');
    expect(() => loadConfig({ env: { [CONFIG_FILE_ENV]: file } })).toThrow(ConfigError);
  });

  test('fails when the config file has a typo in a key', () => {
    const file = writeFile(JSON.stringify({ regoin: 'us-east-1' }));
    expect(() => loadConfig({ env: { [CONFIG_FILE_ENV]: file } })).toThrow(/unknown key "regoin"/);
  });
});
