import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import {
  CDKTF_CONTEXT_ENV, CONFIG_FILE_ENV, ConfigError, loadConfig, loadConfigWithOrigins, parseConfig, readContext, regionDisagreement,
} from '../src/config';

/** The lines a bad config produces, one per problem, or a failure when the config is accepted. */
function problemsWith(run: () => unknown): readonly string[] {
  try {
    run();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as ConfigError).problems;
  }
  throw new Error('the config was accepted');
}

let dir: string;
beforeEach(() => { dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-config-')); });
afterEach(() => fs.rmSync(dir, { recursive: true, force: true }));

/** A config file in the test's own directory: JSON text as given, or an object as JSON. */
function writeFile(content: string | object): string {
  const file = path.join(dir, 'config.json');
  fs.writeFileSync(file, typeof content === 'string' ? content : JSON.stringify(content));
  return file;
}

/** The first line a bad value produces. */
const problemWith = (input: unknown): string => problemsWith(() => parseConfig(input))[0];

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
      image: 'pytorch',
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

  test('the Slurm detector is off unless asked for (a box has no Slurm); every other detector is on', () => {
    const { slurm, ...others } = parseConfig({}).idle.detectors;
    expect(slurm).toBe(false);
    expect(Object.values(others).every((on) => on === true)).toBe(true);
    expect(parseConfig({ idle: { detectors: { slurm: true } } }).idle.detectors.slurm).toBe(true);
  });

  test('the result is frozen, nested objects too', () => {
    const config = parseConfig({ tags: { team: 'ml' } });
    expect(Object.isFrozen(config)).toBe(true);
    expect(Object.isFrozen(config.idle.detectors)).toBe(true);
    expect(Object.isFrozen(config.tags)).toBe(true);
  });

  test('no data volume unless asked for; asked for by its size, it gets gp3\'s baseline IOPS and throughput', () => {
    expect(parseConfig({}).dataVolume).toBeUndefined();
    expect(parseConfig({ dataVolume: { sizeGiB: 500 } }).dataVolume).toEqual({ sizeGiB: 500, iops: 3000, throughputMiBps: 125 });
    expect(parseConfig({ dataVolume: { sizeGiB: 500, iops: 6000, throughputMiBps: 500, snapshotId: 'snap-0123456789abcdef0' } }).dataVolume)
      .toEqual({ sizeGiB: 500, iops: 6000, throughputMiBps: 500, snapshotId: 'snap-0123456789abcdef0' });
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

  test('spot boxes launch through a spot request unless run-instances is chosen', () => {
    expect(parseConfig({}).spotLaunch).toBe('spot-request');
    expect(parseConfig({ spotLaunch: 'run-instances' }).spotLaunch).toBe('run-instances');
  });

  test.each(['spot', 'auto'] as const)('CPU options on market %s are accepted with spotLaunch run-instances', (market) => {
    const config = parseConfig({ market, spotLaunch: 'run-instances', cpuCoreCount: 2, cpuThreadsPerCore: 1 });
    expect(config).toMatchObject({ cpuCoreCount: 2, cpuThreadsPerCore: 1 });
  });

  test('SSH from anywhere is accepted only when asked for by name', () => {
    expect(parseConfig({ sshCidrs: ['0.0.0.0/0'], allowSshFromAnywhere: true }).sshCidrs).toEqual(['0.0.0.0/0']);
  });

  test('tag keys that only contain the stack\'s own keys are the user\'s to set', () => {
    const tags = { Team: 'ml', ProjectCode: 'p-17', 'cost:Name': 'research' };
    expect(parseConfig({ tags }).tags).toEqual(tags);
  });
});

describe('tags: the stack\'s own keys are refused, since the CLI and the stop rule find the boxes by them', () => {
  /** The one line a tag key of the stack's own produces. */
  const refusal = (source: string, tags: Record<string, string>, key: string) =>
    `${source}: tags ${JSON.stringify(tags)} has key "${key}"; Project, ManagedBy, Name and trainium-spot:deployment ` +
    '(in any letter case) are set by ' +
    'trainium-spot, which finds its boxes by them; allowed: any other key ("name" sets Project and Name)';

  test.each<[string, Record<string, string>, string]>([
    ['tags would take over ManagedBy', { ManagedBy: 'platform-team' }, 'ManagedBy'],
    ['tags would take over Project', { Team: 'ml', Project: 'llm' }, 'Project'],
    ['tags would take over Name', { Name: 'my-box' }, 'Name'],
    ['tags set name in lower case', { name: 'my-box' }, 'name'],
    ['tags set PROJECT in upper case', { PROJECT: 'llm' }, 'PROJECT'],
    ['tags would take over the deployment id', { 'Trainium-Spot:Deployment': 'mine' }, 'Trainium-Spot:Deployment'],
  ])('fails when %s', (_case, tags, key) => {
    // WHEN
    const problems = problemsWith(() => parseConfig({ tags }));
    // THEN one line: the field, the value, what is allowed
    expect(problems).toEqual([refusal('config', tags, key)]);
  });

  test('fails when ManagedBy comes from a config file: the line names the file', () => {
    // GIVEN
    const tags = { ManagedBy: 'platform-team' };
    const file = writeFile({ tags });
    // WHEN
    const problems = problemsWith(() => loadConfig({ env: { [CONFIG_FILE_ENV]: file } }));
    // THEN
    expect(problems).toEqual([refusal(file, tags, 'ManagedBy')]);
  });
});

describe('bad input: one line naming the key, the value and what is allowed', () => {
  test.each<[string, unknown, RegExp]>([
    ['unknown instance type', { instanceType: 'trn9.xlarge' },
      /^config: instanceType "trn9\.xlarge" is not a supported instance type; supported: trn1\.2xlarge, /],
    ['type not offered in the region', { region: 'eu-west-1' },
      /^config: region "eu-west-1" does not offer trn1\.2xlarge; regions that do: us-east-1, us-east-2, us-west-2$/],
    ['malformed region', { region: 'ohio' }, /^config: region "ohio" must be an AWS region code/],
    ['malformed AZ ID', { availabilityZoneId: 'us-east-2c' },
      /^config: availabilityZoneId "us-east-2c" must be an AZ ID such as use2-az3$/],
    ['AZ ID that does not offer the type', { availabilityZoneId: 'use2-az1' },
      /^config: availabilityZoneId "use2-az1" does not offer trn1\.2xlarge in us-east-2; AZ IDs that do: use2-az3$/],
    ['AZ ID of another region', { availabilityZoneId: 'usw2-az1' },
      /availabilityZoneId "usw2-az1" does not offer trn1\.2xlarge in us-east-2/],
    ['CPU options on a spot request, which EC2 cannot apply', { cpuCoreCount: 2 },
      /^config: cpuCoreCount 2 cannot apply to market "spot" with spotLaunch "spot-request": EC2 spot requests take no CPU options; set spotLaunch "run-instances"/],
    ['CPU options on the auto market with spot requests', { market: 'auto', cpuThreadsPerCore: 1 },
      /^config: cpuThreadsPerCore 1 cannot apply to market "auto" with spotLaunch "spot-request"/],
    ['an unknown spot launch path', { spotLaunch: 'fleet' },
      /^config: spotLaunch "fleet" must be one of spot-request, run-instances$/],
    ['invalid core count', { market: 'on-demand', cpuCoreCount: 8 }, /^config: cpuCoreCount 8 is not valid for trn1\.2xlarge; valid core counts: 1, 2, 3, 4$/],
    ['invalid threads per core', { market: 'on-demand', cpuThreadsPerCore: 4 }, /^config: cpuThreadsPerCore 4 is not valid for trn1\.2xlarge; valid: 1, 2$/],
    ['volume too large', { rootVolumeSizeGiB: 20000 }, /^config: rootVolumeSizeGiB 20000 must be a whole number from 1 to 16384 GiB$/],
    ['volume size not whole', { rootVolumeSizeGiB: 50.5 }, /^config: rootVolumeSizeGiB 50\.5 must be a whole number$/],
    ['IOPS below gp3 minimum', { rootVolumeIops: 100 }, /^config: rootVolumeIops 100 must be a whole number from 3000 to 16000 IOPS$/],
    ['IOPS above 500 per GiB', { rootVolumeIops: 16000, rootVolumeSizeGiB: 20 },
      /^config: rootVolumeIops 16000 exceeds the gp3 limit of 500 IOPS per GiB \(10000 for 20 GiB\)/],
    ['throughput above gp3 maximum', { rootVolumeThroughputMiBps: 2000 },
      /^config: rootVolumeThroughputMiBps 2000 must be a whole number from 125 to 1000 MiB\/s$/],
    ['throughput above 0.25 MiB/s per IOPS', { rootVolumeThroughputMiBps: 1000 },
      /rootVolumeThroughputMiBps 1000 exceeds the gp3 limit of 0\.25 MiB\/s per provisioned IOPS \(750 for 3000 IOPS\)/],
    ['malformed CIDR', { sshCidrs: ['10.0.0.300/32'] }, /^config: sshCidrs\.0 "10\.0\.0\.300\/32" is not a CIDR block/],
    ['CIDR with host bits', { sshCidrs: ['10.1.2.3/8'] }, /^config: sshCidrs\.0 "10\.1\.2\.3\/8" has host bits set; the network is 10\.0\.0\.0\/8$/],
    ['SSH from the IPv4 world', { sshCidrs: ['0.0.0.0/0'] }, /^config: sshCidrs\.0 "0\.0\.0\.0\/0" opens SSH to the whole internet or a large part of it; set allowSshFromAnywhere: true/],
    ['SSH from the IPv6 world', { sshCidrs: ['203.0.113.0/24', '::/0'] }, /^config: sshCidrs\.1 "::\/0" opens SSH to the whole internet/],
    ['SSH from half the IPv4 internet', { sshCidrs: ['0.0.0.0/1', '128.0.0.0/1'] },
      /^config: sshCidrs\.0 "0\.0\.0\.0\/1" opens SSH to the whole internet or a large part of it/],
    ['negative price', { spotMaxPricePerHour: -1 }, /^config: spotMaxPricePerHour -1 must be a price in USD per hour above 0$/],
    ['zero price', { spotMaxPricePerHour: 0 }, /^config: spotMaxPricePerHour 0 must be a price in USD per hour above 0$/],
    ['price above on-demand', { spotMaxPricePerHour: 2 },
      /^config: spotMaxPricePerHour 2 is above the on-demand price of trn1\.2xlarge \(\$1\.34375\/h\); allowed: above 0 and at most 1\.34375$/],
    ['unknown key (a typo)', { instanceTyp: 'trn1.2xlarge' }, /^config: unknown key "instanceTyp"; allowed: name, region, instanceType, /],
    ['unknown nested key', { idle: { checkIntervalSecs: 30 } }, /^config: unknown key "checkIntervalSecs" in idle; allowed: enabled, dryRun, checkIntervalSeconds/],
    ['wrong type', { instanceCount: 'two' }, /^config: instanceCount "two" must be a number$/],
    ['malformed subnet id', { subnetId: 'subnet-xyz' }, /^config: subnetId "subnet-xyz" must look like subnet-0123456789abcdef0$/],
    ['malformed public key', { sshPublicKey: 'hello' }, /^config: sshPublicKey "hello" must be an OpenSSH public key/],
    ['AWS-reserved tag key', { tags: { 'aws:owner': 'x' } }, /^config: tags .* has key "aws:owner"; tag keys are 1-128 characters and must not start with "aws:"$/],
    ['unknown market', { market: 'reserved' }, /^config: market "reserved" must be one of spot, on-demand, capacity-block, capacity-reservation, auto$/],
    ['capacity block without an id', { market: 'capacity-block', instanceType: 'trn1.32xlarge' },
      /^config: capacityReservationId \(missing\) is required when market is "capacity-block"/],
    ['malformed reservation id', { market: 'capacity-reservation', capacityReservationId: 'cr-12' },
      /^config: capacityReservationId "cr-12" must look like cr-0123456789abcdef0$/],
    ['capacity block for a type without blocks', { market: 'capacity-block', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' },
      /^config: market "capacity-block" is not offered for trn1\.2xlarge; types with Capacity Blocks: trn1\.32xlarge/],
    ['reservation id with the spot market', { capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3' },
      /^config: capacityReservationId "cr-0123456789abcdef0" only applies to market "capacity-block" or "capacity-reservation", not "spot"$/],
    ['instanceCount below 1', { instanceCount: 0 }, /^config: instanceCount 0 must be a whole number from 1 to 64$/],
    ['instanceCount above any quota', { instanceCount: 1000 }, /^config: instanceCount 1000 must be a whole number from 1 to 64$/],
    ['notifyEmail not an e-mail', { notifyEmail: 'ops' }, /^config: notifyEmail "ops" must be an e-mail address$/],
    ['S3 backend without a bucket', { backend: { type: 's3' } }, /^config: backend\.bucket \(missing\) is required$/],
    ['a process pattern spans two lines', { idle: { processPatterns: ['train', 'a\nb'] } },
      /^config: idle\.processPatterns\.1 "a\\nb" must be one line of printable characters$/],
    ['a reservation without the AZ it lives in', { market: 'capacity-reservation', capacityReservationId: 'cr-0123456789abcdef0' },
      /^config: availabilityZoneId \(missing\) is required with capacityReservationId: a reservation lives in one AZ/],
    ['idle minutes are negative', { idle: { idleMinutes: -5 } },
      /^config: idle\.idleMinutes -5 must be a whole number from 1 to 1440 minutes$/],
    ['a detector name is unknown', { idle: { detectors: { gpus: false } } },
      /^config: unknown key "gpus" in idle\.detectors; allowed: ssh, ssm, multiplexers, neuron, gpu, processes, cpu, disk, memory, network, keepalive, terminal, slurm$/],
    ['the Slurm detector switch is not a boolean', { idle: { detectors: { slurm: 'yes' } } },
      /^config: idle\.detectors\.slurm "yes" must be a boolean$/],
    ['maxIdleSessionHours is negative', { idle: { maxIdleSessionHours: -1 } },
      /^config: idle\.maxIdleSessionHours -1 must be a whole number from 0 to 168 hours \(0: off\)$/],
    ['an ignore pattern spans two lines', { idle: { ignorePatterns: ['a\nb'] } },
      /^config: idle\.ignorePatterns\.0 "a\\nb" must be one line of printable characters$/],
    ['the backstop would call a short publishing outage silence', { idleAlarm: { silentMinutes: 2 } },
      /^config: idleAlarm\.silentMinutes 2 must be a whole number from 5 to 120 minutes$/],
    ['the low-CPU share is out of range', { idleAlarm: { lowCpuBusyVcpus: 0 } },
      /^config: idleAlarm\.lowCpuBusyVcpus 0 must be from 0\.05 to 4 vCPUs$/],
    ['a threshold too small for the idle check to tell from 0', { idle: { cpuThresholdPercent: 0.0005 } },
      /^config: idle\.cpuThresholdPercent 0\.0005 must be a percentage from 0\.001 to 100$/],
    ['a name too long for AWS name prefixes', { name: 'a'.repeat(31) },
      /^config: name "a{31}" must be 1-30 lowercase letters, digits or dashes, starting with a letter$/],
    ['a data volume without its size', { dataVolume: { iops: 4000 } }, /^config: dataVolume\.sizeGiB \(missing\) is required$/],
    ['a data volume larger than gp3 allows', { dataVolume: { sizeGiB: 20000 } },
      /^config: dataVolume\.sizeGiB 20000 must be a whole number from 1 to 16384 GiB$/],
    ['data volume IOPS above 500 per GiB', { dataVolume: { sizeGiB: 20, iops: 16000 } },
      /^config: dataVolume\.iops 16000 exceeds the gp3 limit of 500 IOPS per GiB \(10000 for 20 GiB\); raise dataVolume\.sizeGiB or lower the IOPS$/],
    ['data volume throughput above 0.25 MiB/s per IOPS', { dataVolume: { sizeGiB: 500, throughputMiBps: 1000 } },
      /^config: dataVolume\.throughputMiBps 1000 exceeds the gp3 limit of 0\.25 MiB\/s per provisioned IOPS \(750 for 3000 IOPS\)$/],
    ['a malformed snapshot id', { dataVolume: { sizeGiB: 500, snapshotId: 'vol-0123456789abcdef0' } },
      /^config: dataVolume\.snapshotId "vol-0123456789abcdef0" must look like snap-0123456789abcdef0$/],
    ['a data volume key with its unit left out', { dataVolume: { sizeGiB: 500, throughput: 250 } },
      /^config: unknown key "throughput" in dataVolume; allowed: sizeGiB, iops, throughputMiBps, snapshotId$/],
  ])('fails when %s', (_case, input, expected) => {
    const message = problemWith(input);
    expect(message).toMatch(expected);
    expect(message).not.toContain('\n');
  });
});

describe('sources: defaults < cdktf.json context < config file < env vars', () => {

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

describe('every problem at once, one line each, naming the source', () => {

  test('fails when a capacity block lacks its id and its type has none: both problems in one run', () => {
    // WHEN
    const problems = problemsWith(() => parseConfig({ market: 'capacity-block' }));
    // THEN
    expect(problems).toEqual([
      'config: capacityReservationId (missing) is required when market is "capacity-block"; give the Capacity Block\'s cr-… id',
      'config: market "capacity-block" is not offered for trn1.2xlarge; types with Capacity Blocks: trn1.32xlarge, trn1n.32xlarge, trn2.48xlarge',
    ]);
  });

  test('fails when keys of different sources are wrong: each line names its own source', () => {
    // GIVEN a typo in cdktf.json context, a bad count in the file, a bad market in an env var
    const file = writeFile({ instanceCount: 0 });
    // WHEN
    const problems = problemsWith(() => loadConfig({
      context: { trainiumSpot: { regon: 'us-east-1' } },
      env: { [CONFIG_FILE_ENV]: file, TRAINIUM_SPOT_MARKET: 'reserved' },
    }));
    // THEN
    expect(problems).toHaveLength(3);
    expect(problems).toContain(`${file}: instanceCount 0 must be a whole number from 1 to 64`);
    expect(problems).toContain(
      'TRAINIUM_SPOT_MARKET: market "reserved" must be one of spot, on-demand, capacity-block, capacity-reservation, auto');
    expect(problems).toContainEqual(expect.stringMatching(/^cdktf\.json context\.trainiumSpot: unknown key "regon"; allowed: name, region, /));
  });

  test('fails when a value is missing: the line names the source of the value that asks for it', () => {
    const problems = problemsWith(() => loadConfig({ env: { TRAINIUM_SPOT_MARKET: 'capacity-block', TRAINIUM_SPOT_INSTANCE_TYPE: 'trn1.32xlarge' } }));
    expect(problems).toEqual([
      'TRAINIUM_SPOT_MARKET: capacityReservationId (missing) is required when market is "capacity-block"; give the Capacity Block\'s cr-… id',
    ]);
  });

  test('fails when the context region does not offer the type from an env var: the region\'s source is named', () => {
    const problems = problemsWith(() => loadConfig({
      context: { trainiumSpot: { region: 'us-west-2' } }, env: { TRAINIUM_SPOT_INSTANCE_TYPE: 'trn2.48xlarge' },
    }));
    expect(problems).toEqual(['cdktf.json context.trainiumSpot: region "us-west-2" does not offer trn2.48xlarge; regions that do: us-east-2']);
  });

  test.each<[string, unknown, string]>([
    ['a list is a string', { sshCidrs: '10.0.0.0/8' }, 'config: sshCidrs "10.0.0.0/8" must be an array'],
    ['tags are a list', { tags: ['a'] }, 'config: tags ["a"] must be an object'],
    ['idle is a number', { idle: 5 }, 'config: idle 5 must be an object'],
  ])('fails when %s: the article fits the noun', (_case, input, expected) => {
    expect(problemsWith(() => parseConfig(input))).toEqual([expected]);
  });

  test('fails when a malformed value would also fail a cross-field check: one line, the value named once', () => {
    expect(problemsWith(() => parseConfig({ region: 'ohio' }))).toEqual(['config: region "ohio" must be an AWS region code such as us-east-2']);
    expect(problemsWith(() => parseConfig({ rootVolumeIops: 100 }))).toEqual(['config: rootVolumeIops 100 must be a whole number from 3000 to 16000 IOPS']);
  });
});

describe('sources that look right but are not', () => {

  test('"$schema" in the config file and in the context is accepted and sets nothing', () => {
    // GIVEN the line the README tells editors to use
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ $schema: './config.schema.json', instanceCount: 2 }));
    // WHEN
    const config = loadConfig({ context: { trainiumSpot: { $schema: './config.schema.json' } }, env: { [CONFIG_FILE_ENV]: file } });
    // THEN
    expect(config.instanceCount).toBe(2);
    expect(Object.keys(config)).not.toContain('$schema');
  });

  test.each(['trainiumspot', 'TrainiumSpot', 'trainium-spot', 'trainumSpot', 'tranumSpot'])('fails when the context key is "%s"', (key) => {
    const problems = problemsWith(() => loadConfig({ context: { [key]: { region: 'us-west-2' } } }));
    expect(problems).toEqual([
      `cdktf.json context: key "${key}" is not read (keys are case-sensitive); put the config under "trainiumSpot"`,
    ]);
  });

  test('context keys of other tools are left alone', () => {
    expect(loadConfig({ context: { excludeStackIdFromLogicalIds: 'true', trainiumSpot: {} } }).region).toBe('us-east-2');
  });

  test('a context key three letters away from "trainiumSpot" is taken for another tool\'s', () => {
    expect(loadConfig({ context: { tranumSpt: 'x', trainiumSpot: {} } }).region).toBe('us-east-2');
  });

  test.each<[Record<string, string>, string]>([
    [{ TF_CLOUD_ORGANIZATION: 'acme' },
      'TF_CLOUD_ORGANIZATION "acme" is set but TF_WORKSPACE is not; Terraform Cloud needs both (or neither, to use the backend of the config)'],
    [{ TF_WORKSPACE: 'ml-box' },
      'TF_WORKSPACE "ml-box" is set but TF_CLOUD_ORGANIZATION is not; Terraform Cloud needs both (or neither, to use the backend of the config)'],
  ])('fails when Terraform Cloud is half configured: %j', (env, expected) => {
    expect(problemsWith(() => loadConfig({ env }))).toEqual([expected]);
  });

  test('fails when the file names an S3 backend and the env vars Terraform Cloud: two backends', () => {
    // GIVEN
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ backend: { type: 's3', bucket: 'my-state' } }));
    // WHEN
    const problems = problemsWith(() => loadConfig({ env: { [CONFIG_FILE_ENV]: file, TF_CLOUD_ORGANIZATION: 'acme', TF_WORKSPACE: 'ml' } }));
    // THEN
    expect(problems).toEqual([`two backends: ${file} sets backend "s3", and TF_CLOUD_ORGANIZATION and TF_WORKSPACE select ` +
      'Terraform Cloud; keep one (remove "backend" there, or unset the variables)']);
  });

  test('fails when a backend key has a typo: the allowed keys are those of that backend', () => {
    expect(problemsWith(() => parseConfig({ backend: { type: 's3', bucket: 'my-state', regoin: 'us-east-1' } }))).toEqual([
      'config: unknown key "regoin" in backend; allowed: type, bucket, key, region, useLockfile',
    ]);
  });

  test('a backend of another type in the file replaces the context one instead of merging into it', () => {
    const file = path.join(dir, 'config.json');
    fs.writeFileSync(file, JSON.stringify({ backend: { type: 'local', path: 'x.tfstate' } }));
    const config = loadConfig({ context: { trainiumSpot: { backend: { type: 's3', bucket: 'my-state' } } }, env: { [CONFIG_FILE_ENV]: file } });
    expect(config.backend).toEqual({ type: 'local', path: 'x.tfstate' });
  });
});

describe('the context the app and the CLI read', () => {

  test('cdktf.json in the directory, when cdktf-cli did not hand one over', () => {
    fs.writeFileSync(path.join(dir, 'cdktf.json'), JSON.stringify({ app: 'x', context: { trainiumSpot: { region: 'us-west-2' } } }));
    expect(readContext({}, dir)).toEqual({ trainiumSpot: { region: 'us-west-2' } });
  });

  test('CDKTF_CONTEXT_JSON from cdktf-cli wins over the file', () => {
    fs.writeFileSync(path.join(dir, 'cdktf.json'), JSON.stringify({ context: { trainiumSpot: { region: 'us-west-2' } } }));
    expect(readContext({ [CDKTF_CONTEXT_ENV]: '{"trainiumSpot":{"region":"us-east-1"}}' }, dir))
      .toEqual({ trainiumSpot: { region: 'us-east-1' } });
  });

  test('no cdktf.json: no context', () => {
    expect(readContext({}, dir)).toEqual({});
  });

  test('fails when cdktf.json is not JSON', () => {
    fs.writeFileSync(path.join(dir, 'cdktf.json'), '{');
    expect(() => readContext({}, dir)).toThrow(/^cdktf\.json: ".*cdktf\.json" is not valid JSON/);
  });
});

describe('the region rule', () => {
  test('AWS_REGION never picks the region; a warning says where the configured one came from', () => {
    const loaded = loadConfigWithOrigins({ env: {} });
    expect(loaded.config.region).toBe('us-east-2');
    expect(regionDisagreement(loaded, { AWS_REGION: 'us-west-2' })).toBe(
      'warning: AWS_REGION is us-west-2, but the configured region is us-east-2 (from defaults); ' +
      'using us-east-2: set TRAINIUM_SPOT_REGION or "region" in the config to change it');
  });

  test('no warning when AWS_REGION agrees or is unset', () => {
    const loaded = loadConfigWithOrigins({ env: { TRAINIUM_SPOT_REGION: 'us-west-2' } });
    expect(loaded.origin('region')).toBe('TRAINIUM_SPOT_REGION');
    expect(regionDisagreement(loaded, { AWS_REGION: 'us-west-2' })).toBeUndefined();
    expect(regionDisagreement(loaded, {})).toBeUndefined();
  });
});
