/**
 * `catalog` as a child process (bin/trainium-spot.js -> dist/cli.js): the catalog as it is, and with
 * `--live` every difference from a fake AWS on 127.0.0.1 (SSM GetParametersByPath, EC2
 * DescribeInstanceTypeOfferings by AZ ID).
 */
import {
  IMAGE_PRESETS,
  INSTANCE_TYPE_NAMES,
  INSTANCE_TYPES,
  NEURON_DLAMI_PARAMETER_PATH,
  PENDING_INSTANCE_TYPES,
} from '../../src/catalog';
import { CatalogDrift, CatalogReport } from '../../src/cli/report';
import { expectFailure, FakeAws, useFakeAws } from './fake-aws';

jest.setTimeout(30_000);

const { fake, trainiumSpot } = useFakeAws();

/** Every region the catalog lists for any type. */
const CATALOG_REGIONS = [...new Set(Object.values(INSTANCE_TYPES).flatMap((t) => Object.keys(t.offeredIn)))].sort();
const JAX_010 = IMAGE_PRESETS['jax-0.10'].ssmParameter!;
const JAX_011 = `${NEURON_DLAMI_PARAMETER_PATH}/jax-0.11/ubuntu-24.04/latest/image_id`;
/** A parameter outside the catalog by choice (Amazon Linux 2023): listed, never drift. */
const AL2023_BASE = `${NEURON_DLAMI_PARAMETER_PATH}/base/amazon-linux-2023/latest/image_id`;

const NONE = { preset: null, parameter: null, amiId: null, instanceType: null, availabilityZoneId: null };

/**
 * AWS as the catalog says it is, in every catalog region: each preset's parameter (with enough others
 * beside it that listing them takes two pages of ten), and each type offered where the catalog lists
 * it; the type not supported yet is offered nowhere.
 */
function catalogWorld(aws: FakeAws): void {
  const presetParameters = Object.values(IMAGE_PRESETS).flatMap((p) => (p.ssmParameter ? [p.ssmParameter] : []));
  const others = [AL2023_BASE, ...Array.from({ length: 6 }, (_, i) => `${NEURON_DLAMI_PARAMETER_PATH}/base/ubuntu-22.04/build-${i}/image_id`)];
  aws.parameters = Object.fromEntries(CATALOG_REGIONS.map((region) =>
    [region, Object.fromEntries([...presetParameters, ...others].map((name, i) => [name, `ami-0123456789abcde${i.toString(16).padStart(2, '0')}`]))]));
  aws.offerings = Object.fromEntries(CATALOG_REGIONS.map((region) =>
    [region, Object.fromEntries(Object.entries(INSTANCE_TYPES).map(([type, facts]) => [type, [...(facts.offeredIn[region] ?? [])]]))]));
}

const parseReport = (stdout: string) => JSON.parse(stdout) as CatalogReport;

// ---------------------------------------------------------------------------------------------
// The catalog as it is
// ---------------------------------------------------------------------------------------------

describe('trainium-spot catalog', () => {
  test('GIVEN no flags WHEN catalog THEN every type, the pending type and every preset are printed, without asking AWS', async () => {
    // WHEN
    const run = await trainiumSpot(['catalog']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(fake.requests).toEqual([]);
    expect(run.stdout).toContain('| trn1.2xlarge   |     8 | L-6B0D517C / L-2C3B7624 | $1.3438   | no              | us-east-1: use1-az5, use1-az6 ');
    for (const type of INSTANCE_TYPE_NAMES) expect(run.stdout).toContain(`| ${type} `);
    expect(run.stdout).toContain('  trn2.3xlarge: quotas L-6B0D517C / L-2C3B7624; unverified: vCPUs, ');
    expect(run.stdout).toContain('| pytorch-2.9      | trn1, trn1n, inf2       | 2.31.0     | /aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id ');
    expect(run.stdout).toContain('  pytorch (the default): pytorch-2.9 on trn1, trn1n, inf2; torchneuron-2.14 on trn2\n');
    expect(run.stdout).toContain('  pytorch-2.9 no longer on trn2 since Neuron 2.34.0 (PyTorch/XLA inference ended on Trn2 and Trn3 in Neuron 2.34, ' +
      'training in 2.30); use torchneuron-2.14\n');
    expect(run.stdout).toContain('  jax-0.10: not catalogued yet: JAX 0.11.2 since Neuron 2.34.0');
    expect(run.stdout).toContain('  vllm-0.24: not catalogued yet: vLLM Neuron 0.29.0.1.2.0 since Neuron 2.33.0');
    expect(run.stdout).toContain('  multi-framework: not catalogued yet: the image of a Neuron release after 2.32 that its parameter names today');
    expect(run.stdout).toMatch(/\n {2}trn2\.3xlarge: quotas L-6B0D517C \/ L-2C3B7624; unverified: .*on-demand price, regions and AZ IDs, Capacity Blocks\n/);
  });

  test('GIVEN --output json WHEN catalog THEN the document holds the facts with their sources, and no comparison', async () => {
    // WHEN
    const run = await trainiumSpot(['catalog', '--output', 'json']);
    // THEN
    expect(run.code).toBe(0);
    const report = parseReport(run.stdout);
    expect(report.live).toBeNull();
    expect(report.instanceTypes.map((t) => t.name)).toEqual(INSTANCE_TYPE_NAMES);
    expect(report.instanceTypes.find((t) => t.name === 'trn2.48xlarge')).toEqual({
      name: 'trn2.48xlarge', family: 'trn', vcpus: 192, memoryGiB: 2048, accelerators: '16 Trainium2 chips (128 NeuronCores-v3)',
      spotQuotaCode: 'L-6B0D517C', onDemandQuotaCode: 'L-2C3B7624', onDemandPricePerHour: 44.7, capacityBlocks: true,
      offeredIn: { 'us-east-2': ['use2-az3'] },
    });
    expect(report.pendingInstanceTypes).toEqual([{
      name: 'trn2.3xlarge', family: 'trn', spotQuotaCode: 'L-6B0D517C', onDemandQuotaCode: 'L-2C3B7624',
      unverified: PENDING_INSTANCE_TYPES['trn2.3xlarge'].unverified, source: PENDING_INSTANCE_TYPES['trn2.3xlarge'].source,
    }]);
    expect(report.imagePresets.map((p) => p.name)).toEqual(Object.keys(IMAGE_PRESETS));
    expect(report.imagePresets.find((p) => p.name === 'pytorch-2.9')).toMatchObject({
      families: ['trn1', 'trn1n', 'inf2'],
      retiredFamilies: [{ family: 'trn2', sinceNeuron: '2.34.0', reason: expect.any(String), use: 'torchneuron-2.14' }],
      source: expect.stringContaining('announce-no-support-torch-xla-inference-trn.html'),
    });
    expect(report.imageAliases.pytorch).toEqual({ trn1: 'pytorch-2.9', trn1n: 'pytorch-2.9', inf2: 'pytorch-2.9', trn2: 'torchneuron-2.14' });
  });

  test('fails when --regions is given without --live: one line saying why', async () => {
    const run = await trainiumSpot(['catalog', '--regions', 'us-east-1']);

    expectFailure(run, "trainium-spot: catalog: --regions cannot be used without --live: only the comparison with AWS asks regions (see 'trainium-spot help catalog')\n");
    expect(fake.requests).toEqual([]);
  });
});

// ---------------------------------------------------------------------------------------------
// --live
// ---------------------------------------------------------------------------------------------

describe('trainium-spot catalog --live', () => {
  beforeEach(() => catalogWorld(fake));

  test('GIVEN AWS as the catalog says WHEN catalog --live THEN no drift, exit 0, and every parameter page was read', async () => {
    // WHEN
    const run = await trainiumSpot(['catalog', '--live']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('  SSM parameters under /aws/service/neuron/dlami: us-east-1 12 (5 the newest image of an Ubuntu 24.04 DLAMI), ');
    expect(run.stdout).toContain('No drift: the catalog matches AWS.\n');
    const byPath = fake.requests.filter((r) => r.action === 'AmazonSSM.GetParametersByPath');
    // 12 parameters a region, 10 a page: two pages in each region.
    expect(byPath.map((r) => r.region).sort()).toEqual(CATALOG_REGIONS.flatMap((region) => [region, region]));
    expect(JSON.parse(byPath[0].body)).toMatchObject({ Path: NEURON_DLAMI_PARAMETER_PATH, Recursive: true });
    const asked = new URLSearchParams(fake.requests.find((r) => r.action === 'DescribeInstanceTypeOfferings')!.body);
    expect(asked.get('LocationType')).toBe('availability-zone-id');
    expect([...asked.entries()].filter(([k]) => k.startsWith('Filter.1.Value.')).map(([, v]) => v))
      .toEqual([...INSTANCE_TYPE_NAMES, ...Object.keys(PENDING_INSTANCE_TYPES)]);
  });

  test('GIVEN one parameter gone, one new and one AZ more WHEN catalog --live --output json THEN exit 1 and exactly those three differences', async () => {
    // GIVEN
    delete fake.parameters['us-east-2'][JAX_010];
    fake.parameters['us-east-2'][JAX_011] = 'ami-0fedcba9876543210';
    fake.offerings!['us-east-2']['trn1.2xlarge'].push('use2-az1');
    // WHEN
    const run = await trainiumSpot(['catalog', '--live', '--output', 'json']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(1);
    const live = parseReport(run.stdout).live!;
    expect(live.regions).toEqual(CATALOG_REGIONS);
    expect(live.parameters).toContainEqual({ region: 'us-east-2', listed: 12, inScope: 5 });
    expect(live.drift).toEqual<CatalogDrift[]>([
      {
        ...NONE, kind: 'parameter-gone', region: 'us-east-2', preset: 'jax-0.10', parameter: JAX_010,
        message: `preset jax-0.10: its parameter ${JAX_010} does not exist in us-east-2, so terraform plan fails there`,
      },
      {
        ...NONE, kind: 'parameter-new', region: 'us-east-2', parameter: JAX_011, amiId: 'ami-0fedcba9876543210',
        message: `${JAX_011} (ami-0fedcba9876543210) in us-east-2 is used by no preset`,
      },
      {
        ...NONE, kind: 'az-new', region: 'us-east-2', instanceType: 'trn1.2xlarge', availabilityZoneId: 'use2-az1',
        message: 'trn1.2xlarge is offered in use2-az1 (us-east-2), which the catalog does not list',
      },
    ]);
  });

  test('GIVEN the same drift WHEN catalog --live prints a table THEN each difference is one row and the count says what to do', async () => {
    // GIVEN
    delete fake.parameters['us-east-2'][JAX_010];
    fake.parameters['us-east-2'][JAX_011] = 'ami-0fedcba9876543210';
    fake.offerings!['us-east-2']['trn1.2xlarge'].push('use2-az1');
    // WHEN
    const run = await trainiumSpot(['catalog', '--live']);
    // THEN
    expect(run.code).toBe(1);
    expect(run.stdout).toMatch(/\n\| parameter-gone \| us-east-2 \| preset jax-0\.10: its parameter .* fails there +\|\n/);
    expect(run.stdout).toMatch(/\n\| parameter-new +\| us-east-2 \| \/aws\/service\/neuron\/dlami\/jax-0\.11\/ubuntu-24\.04\/latest\/image_id \(ami-0fedcba9876543210\) /);
    expect(run.stdout).toMatch(/\n\| az-new +\| us-east-2 \| trn1\.2xlarge is offered in use2-az1 \(us-east-2\), which the catalog does not list +\|\n/);
    expect(run.stdout).toMatch(/\nSee the image of a new parameter with: trainium-spot image --image ssm:<parameter> --region <region>\n/);
    expect(run.stdout).toMatch(/\n3 differences: update src\/catalog\.ts \(each fact with its source and date\), then run catalog --live again\.\n$/);
  });

  test('GIVEN a type gone from an AZ and the pending type offered WHEN catalog --live --region us-east-2 THEN only that region is asked, and both are drift', async () => {
    // GIVEN
    fake.offerings!['us-east-2']['trn2.48xlarge'] = [];
    fake.offerings!['us-east-2']['trn2.3xlarge'] = ['use2-az3'];
    // WHEN
    const run = await trainiumSpot(['catalog', '--live', '--region', 'us-east-2', '--output', 'json']);
    // THEN
    expect(run.code).toBe(1);
    expect(new Set(fake.requests.map((r) => r.region))).toEqual(new Set(['us-east-2']));
    expect(parseReport(run.stdout).live!.drift).toEqual<CatalogDrift[]>([
      {
        ...NONE, kind: 'az-gone', region: 'us-east-2', instanceType: 'trn2.48xlarge', availabilityZoneId: 'use2-az3',
        message: 'trn2.48xlarge is no longer offered in use2-az3 (us-east-2), which the catalog lists',
      },
      {
        ...NONE, kind: 'az-new', region: 'us-east-2', instanceType: 'trn2.3xlarge', availabilityZoneId: 'use2-az3',
        message: 'trn2.3xlarge is offered in use2-az3 (us-east-2), which the catalog does not list (a type not supported yet: its facts are unverified)',
      },
    ]);
  });

  test('fails when the caller may not list parameters: exit 2 and one line naming the permission', async () => {
    fake.failing = { 'AmazonSSM.GetParametersByPath': 'denied' };

    const run = await trainiumSpot(['catalog', '--live', '--region', 'us-east-2']);

    expectFailure(
      run,
      'trainium-spot: access denied: your credentials may not call ssm:GetParametersByPath in us-east-2 ' +
        '(AccessDeniedException); allow the IAM action ssm:GetParametersByPath for your user or role\n',
    );
  });
});
