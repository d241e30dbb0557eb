/**
 * `catalog` as a child process (bin/trainium-spot.js -> dist/cli.js): the catalog as it is, and with
 * `--live` every difference from a fake AWS on 127.0.0.1 (SSM GetParametersByPath, EC2
 * DescribeInstanceTypeOfferings by AZ ID).
 */
import {
  IMAGE_PRESETS,
  INSTANCE_TYPE_NAMES,
  INSTANCE_TYPES,
  isPresetCandidateParameter,
  NEURON_DLAMI_PARAMETER_PATH,
  PENDING_INSTANCE_TYPES,
  SUPERSEDED_DLAMI_PARAMETERS,
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

  test('GIVEN the superseded list THEN each entry names the newest image of a catalog-release DLAMI that no preset uses, once, with its source', () => {
    const presetParameters = Object.values(IMAGE_PRESETS).map((p) => p.ssmParameter);
    const names = SUPERSEDED_DLAMI_PARAMETERS.map((p) => p.ssmParameter);
    expect(new Set(names).size).toBe(names.length);
    for (const p of SUPERSEDED_DLAMI_PARAMETERS) {
      expect(isPresetCandidateParameter(p.ssmParameter)).toBe(true);
      expect(presetParameters).not.toContain(p.ssmParameter);
      expect(p.lastListedIn).toMatch(/^2\.\d+\.\d+$/);
      expect(p.source).toMatch(/github\.com\/aws-neuron\/aws-neuron-sdk.* v2\.\d+\.\d+ \([0-9a-f]{8}.*checked 2026-12-07$/);
    }
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
        message: `${JAX_011} (ami-0fedcba9876543210) in us-east-2 is used by no preset and is not a known superseded one: a new DLAMI`,
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

  test('GIVEN the known superseded parameters still published, and one gone WHEN catalog --live THEN exit 0, no drift, and one line lists them as known', async () => {
    // GIVEN every superseded parameter in every region, but the first gone from us-west-2
    for (const region of CATALOG_REGIONS) {
      SUPERSEDED_DLAMI_PARAMETERS.forEach((p, i) => { fake.parameters[region][p.ssmParameter] = `ami-0aaaaaaaaaaaaaa${i.toString(16).padStart(2, '0')}`; });
    }
    delete fake.parameters['us-west-2'][SUPERSEDED_DLAMI_PARAMETERS[0].ssmParameter];
    // WHEN
    const run = await trainiumSpot(['catalog', '--live']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(SUPERSEDED_DLAMI_PARAMETERS).toHaveLength(7);
    expect(run.stdout).toContain('\n  7 superseded parameters still published (known, not drift; catalog --output json lists them)\n');
    expect(run.stdout).toContain('No drift: the catalog matches AWS.\n');
    expect(run.stdout).not.toContain('parameter-new');
  });

  test('GIVEN superseded parameters WHEN catalog --live --output json THEN each one still published is listed per region, and none is drift', async () => {
    // GIVEN jax-0.9 in us-east-2 only, and the vLLM 0.21 one in us-east-2 without a value
    const [jax09, vllm021] = ['jax-0.9', 'pytorch-inference-vllm-0.21.0.1.0.0']
      .map((framework) => SUPERSEDED_DLAMI_PARAMETERS.find((p) => p.ssmParameter.includes(`/${framework}/`))!);
    fake.parameters['us-east-2'][jax09.ssmParameter] = 'ami-0bbbbbbbbbbbbbbb1';
    fake.parameters['us-east-2'][vllm021.ssmParameter] = '';
    // WHEN
    const run = await trainiumSpot(['catalog', '--live', '--output', 'json']);
    // THEN
    expect(run.code).toBe(0);
    const live = parseReport(run.stdout).live!;
    expect(live.drift).toEqual([]);
    expect(live.superseded).toEqual([
      { region: 'us-east-2', parameter: jax09.ssmParameter, amiId: 'ami-0bbbbbbbbbbbbbbb1', lastListedIn: '2.31.1', supersededBy: 'jax-0.10 (Neuron 2.32.0)' },
      { region: 'us-east-2', parameter: vllm021.ssmParameter, amiId: null, lastListedIn: '2.31.1', supersededBy: 'vllm-0.24 (Neuron 2.32.0)' },
    ]);
    expect(live.otherUbuntuReleases).toEqual([]);
  });

  test('GIVEN a brand-new Ubuntu 24.04 parameter beside the superseded ones WHEN catalog --live THEN exit 1 naming only the new one', async () => {
    // GIVEN
    for (const p of SUPERSEDED_DLAMI_PARAMETERS) fake.parameters['us-east-1'][p.ssmParameter] = 'ami-0ccccccccccccccc1';
    fake.parameters['us-east-1'][JAX_011] = 'ami-0fedcba9876543210';
    // WHEN
    const run = await trainiumSpot(['catalog', '--live', '--region', 'us-east-1', '--output', 'json']);
    // THEN
    expect(run.code).toBe(1);
    const live = parseReport(run.stdout).live!;
    expect(live.drift).toEqual<CatalogDrift[]>([{
      ...NONE, kind: 'parameter-new', region: 'us-east-1', parameter: JAX_011, amiId: 'ami-0fedcba9876543210',
      message: `${JAX_011} (ami-0fedcba9876543210) in us-east-1 is used by no preset and is not a known superseded one: a new DLAMI`,
    }]);
    expect(live.superseded.map((p) => p.parameter)).toEqual(SUPERSEDED_DLAMI_PARAMETERS.map((p) => p.ssmParameter));
  });

  test('GIVEN Ubuntu 26.04 parameters, one of a framework 24.04 lacks WHEN catalog --live THEN exit 0, and one line names the release and that framework', async () => {
    // GIVEN
    for (const region of CATALOG_REGIONS) {
      for (const framework of ['base', 'multi-framework', 'pytorch-inference-vllm-0.29.0.1.2.0']) {
        fake.parameters[region][`${NEURON_DLAMI_PARAMETER_PATH}/${framework}/ubuntu-26.04/latest/image_id`] = 'ami-0dddddddddddddd01';
      }
    }
    // WHEN
    const run = await trainiumSpot(['catalog', '--live']);
    // THEN
    expect(run.stderr).toBe('');
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('\n  ubuntu-26.04: 3 DLAMI parameters, outside the catalog by choice; only for ubuntu-26.04: pytorch-inference-vllm-0.29.0.1.2.0\n');
    expect(run.stdout).toContain('No drift: the catalog matches AWS.\n');
    // The build-* parameters of Ubuntu 22.04 in the fixture name no newest image, and Amazon Linux is no Ubuntu release.
    expect(run.stdout).not.toContain('ubuntu-22.04:');
    expect(run.stdout).not.toContain('amazon-linux-2023:');
  });

  test('GIVEN Ubuntu 26.04 and 22.04 parameters WHEN catalog --live --output json THEN each release is listed per region with its frameworks, and none is drift', async () => {
    // GIVEN
    const vllm029 = `${NEURON_DLAMI_PARAMETER_PATH}/pytorch-inference-vllm-0.29.0.1.2.0/ubuntu-26.04/latest/image_id`;
    const base2604 = `${NEURON_DLAMI_PARAMETER_PATH}/base/ubuntu-26.04/latest/image_id`;
    const pytorch28On2204 = `${NEURON_DLAMI_PARAMETER_PATH}/pytorch-2.8/ubuntu-22.04/latest/image_id`;
    Object.assign(fake.parameters['us-east-2'], { [vllm029]: 'ami-0eeeeeeeeeeeeee01', [base2604]: 'ami-0eeeeeeeeeeeeee02', [pytorch28On2204]: 'ami-0eeeeeeeeeeeeee03' });
    // WHEN
    const run = await trainiumSpot(['catalog', '--live', '--region', 'us-east-2', '--output', 'json']);
    // THEN
    expect(run.code).toBe(0);
    const live = parseReport(run.stdout).live!;
    expect(live.drift).toEqual([]);
    expect(live.otherUbuntuReleases).toEqual([
      { region: 'us-east-2', operatingSystem: 'ubuntu-22.04', parameters: [pytorch28On2204], frameworks: ['pytorch-2.8'], frameworksOnlyHere: ['pytorch-2.8'] },
      {
        region: 'us-east-2', operatingSystem: 'ubuntu-26.04', parameters: [base2604, vllm029],
        frameworks: ['base', 'pytorch-inference-vllm-0.29.0.1.2.0'], frameworksOnlyHere: ['pytorch-inference-vllm-0.29.0.1.2.0'],
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
