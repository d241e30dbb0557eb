/**
 * The app as users run it: the bundled main.ts as a child process, and once through `cdktf synth`.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

const ROOT = path.resolve(__dirname, '..');
let outdir: string;

// dist/main.js is bundled by the global setup (support/global-setup.ts), which fails the run on any
// build error or warning.
beforeEach(() => { outdir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-app-')); });
afterEach(() => fs.rmSync(outdir, { recursive: true, force: true }));

/** What cdktf.json runs: scripts/app.mjs, which runs the bundle (dist/main.js) in its own process. */
function runApp(env: Record<string, string>, context: object = { trainiumSpot: {} }) {
  return spawnSync(process.execPath, ['scripts/app.mjs'], {
    cwd: ROOT,
    encoding: 'utf8',
    env: {
      PATH: process.env.PATH ?? '',
      CHECKPOINT_DISABLE: '1',
      CDKTF_OUTDIR: outdir,
      CDKTF_CONTEXT_JSON: JSON.stringify(context),
      ...env,
    },
  });
}

const stackFile = () => path.join(outdir, 'stacks', 'trainium-spot', 'cdk.tf.json');

describe('the app', () => {
  test('synthesizes the default stack to stacks/trainium-spot/cdk.tf.json', () => {
    // WHEN
    const run = runApp({});
    // THEN
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    const json = JSON.parse(fs.readFileSync(stackFile(), 'utf8'));
    expect(Object.keys(json.resource.aws_spot_instance_request)).toHaveLength(1);
  });

  test('writes the `terraform test` file of the configured market and its mocks beside the stack', () => {
    // WHEN
    const run = runApp({}, { trainiumSpot: { market: 'auto' } });
    // THEN
    expect(run.status).toBe(0);
    const tests = path.join(outdir, 'stacks', 'trainium-spot', 'tests');
    expect(fs.readdirSync(tests).sort()).toEqual(['mocks', 'trainium-spot.tftest.hcl']);
    // The market's file, its spot boxes named by the launch path, and mocks naming the preset's image
    expect(fs.readFileSync(path.join(tests, 'trainium-spot.tftest.hcl'), 'utf8'))
      .toBe(fs.readFileSync(path.join(ROOT, 'tftest', 'auto.tftest.hcl'), 'utf8')
        .replaceAll('TRAINIUM_SPOT_SPOT_BOXES', 'aws_spot_instance_request.spot_request_701C7715'));
    expect(fs.readdirSync(path.join(tests, 'mocks'))).toEqual(['aws.tfmock.hcl']);
    expect(fs.readFileSync(path.join(tests, 'mocks', 'aws.tfmock.hcl'), 'utf8'))
      .toContain('name             = "Deep Learning AMI Neuron PyTorch 2.9 (Ubuntu 24.04) 20260707"');
  });

  test('reads its config from cdktf.json context', () => {
    const run = runApp({}, { trainiumSpot: { region: 'us-west-2' } });
    expect(run.status).toBe(0);
    const json = JSON.parse(fs.readFileSync(stackFile(), 'utf8'));
    expect(json.provider.aws[0].region).toBe('us-west-2');
  });

  test.each<[string, Record<string, string>, object | undefined, RegExp]>([
    ['an env var holds a bad value', { TRAINIUM_SPOT_INSTANCE_TYPE: 'trn9.xlarge' }, undefined,
      /^trainium-spot: TRAINIUM_SPOT_INSTANCE_TYPE: instanceType "trn9\.xlarge" is not a supported instance type; supported: /],
    ['the config file does not exist', { TRAINIUM_SPOT_CONFIG: '/nonexistent/config.json' }, undefined,
      /^trainium-spot: TRAINIUM_SPOT_CONFIG: "\/nonexistent\/config\.json" cannot be read/],
    ['cdktf.json context has a typo', {}, { trainiumSpot: { regon: 'us-east-1' } },
      /^trainium-spot: cdktf.json context.trainiumSpot: unknown key "regon"; allowed: /],
    ['the image preset does not support the type', { TRAINIUM_SPOT_INSTANCE_TYPE: 'trn1.2xlarge' }, { trainiumSpot: { image: 'vllm-0.24' } },
      /^trainium-spot: cdktf\.json context\.trainiumSpot: image "vllm-0\.24" does not support trn1; presets that do: pytorch, pytorch-2\.9, jax-0\.10, multi-framework, base\n$/],
  ])('fails when %s: one line, exit 1, no stack trace, nothing written', (_case, env, context, expected) => {
    // WHEN
    const run = runApp(env, context);
    // THEN
    expect(run.status).toBe(1);
    expect(run.stdout).toBe('');
    expect(run.stderr).toMatch(expected);
    expect(run.stderr.trimEnd().split('\n')).toHaveLength(1);
    expect(run.stderr).not.toMatch(/\n\s+at /);
    expect(fs.existsSync(path.join(outdir, 'stacks'))).toBe(false);
  });
});

describe('npm run synth: the app run directly', () => {
  let project: string;
  beforeEach(() => { project = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-project-')); });
  afterEach(() => fs.rmSync(project, { recursive: true, force: true }));

  const npmSynth = (env: Record<string, string> = {}) => spawnSync('npm', ['run', 'synth'], {
    cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', CDKTF_OUTDIR: outdir, ...env },
  });

  test('package.json runs the app itself, not cdktf-cli', () => {
    const pkg = JSON.parse(fs.readFileSync(path.join(ROOT, 'package.json'), 'utf8'));
    expect(pkg.scripts.synth).toBe('node scripts/app.mjs');
  });

  test('writes stacks/trainium-spot/cdk.tf.json and says so in one line: the file, the market and the boxes', () => {
    const run = npmSynth();
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(run.stdout.trimEnd().split('\n').at(-1)).toBe(`trainium-spot: wrote ${stackFile()}: market spot, 1 box (trn1.2xlarge)`);
    const config = path.join(project, 'config.json');
    fs.writeFileSync(config, JSON.stringify({ market: 'auto', instanceCount: 3 }));
    const three = npmSynth({ TRAINIUM_SPOT_CONFIG: config });
    expect(three.stdout).toMatch(/: market auto, 3 boxes \(trn1\.2xlarge\)\n$/);
    expect(JSON.parse(fs.readFileSync(stackFile(), 'utf8')).provider.aws[0].region).toBe('us-east-2');
  });

  test('fails when a value is bad: exactly one line on stderr, naming the source, exit 1', () => {
    const run = npmSynth({ TRAINIUM_SPOT_MARKET: 'reserved' });
    expect(run.status).toBe(1);
    expect(run.stderr).toBe('trainium-spot: TRAINIUM_SPOT_MARKET: market "reserved" must be one of spot, on-demand, capacity-block, ' +
      'capacity-reservation, auto\n');
    expect(fs.existsSync(path.join(outdir, 'stacks'))).toBe(false);
  });

  test('reads cdktf.json of the directory it runs in when cdktf-cli hands over no context', () => {
    fs.writeFileSync(path.join(project, 'cdktf.json'), JSON.stringify({ app: 'x', context: { trainiumSpot: { region: 'us-west-2' } } }));
    const run = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js')], {
      cwd: project, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CDKTF_OUTDIR: outdir },
    });
    expect(run.stderr).toBe('');
    expect(JSON.parse(fs.readFileSync(stackFile(), 'utf8')).provider.aws[0].region).toBe('us-west-2');
  });

  test('fails when cdktf.json has the key in the wrong case, and when two values are bad: one line per problem', () => {
    fs.writeFileSync(path.join(project, 'cdktf.json'), JSON.stringify({ context: { trainiumspot: { region: 'us-west-2' } } }));
    const run = spawnSync(process.execPath, [path.join(ROOT, 'dist', 'main.js')], {
      cwd: project, encoding: 'utf8',
      env: { PATH: process.env.PATH ?? '', CDKTF_OUTDIR: outdir, TRAINIUM_SPOT_MARKET: 'capacity-block' },
    });
    expect(run.status).toBe(1);
    expect(run.stderr.trimEnd().split('\n')).toEqual([
      'trainium-spot: cdktf.json context: key "trainiumspot" is not read (keys are case-sensitive); put the config under "trainiumSpot"',
      'trainium-spot: TRAINIUM_SPOT_MARKET: capacityReservationId (missing) is required when market is "capacity-block"; give the Capacity Block\'s cr-… id',
      'trainium-spot: TRAINIUM_SPOT_MARKET: market "capacity-block" is not offered for trn1.2xlarge; types with Capacity Blocks: trn1.32xlarge, trn1n.32xlarge, trn2.48xlarge',
    ]);
  });

  test('GIVEN AWS_REGION differs from the configured region WHEN synth THEN one warning line, and the stack keeps the configured region', () => {
    const run = runApp({ AWS_REGION: 'us-west-2' });
    expect(run.status).toBe(0);
    expect(run.stderr).toBe('trainium-spot: warning: AWS_REGION is us-west-2, but the configured region is us-east-2 (from defaults); ' +
      'using us-east-2: set TRAINIUM_SPOT_REGION or "region" in the config to change it\n');
    expect(JSON.parse(fs.readFileSync(stackFile(), 'utf8')).provider.aws[0].region).toBe('us-east-2');
  });
});

describe('scripts/app.mjs, what cdktf.json runs', () => {
  test('rebundles when a source is newer than dist/main.js, then synthesizes', () => {
    // GIVEN a bundle older than every source
    const bundle = path.join(ROOT, 'dist', 'main.js');
    fs.utimesSync(bundle, new Date('2000-01-01'), new Date('2000-01-01'));
    // WHEN
    const run = spawnSync(process.execPath, ['scripts/app.mjs'], {
      cwd: ROOT, encoding: 'utf8', env: { PATH: process.env.PATH ?? '', CDKTF_OUTDIR: outdir, CDKTF_CONTEXT_JSON: '{}' },
    });
    // THEN
    expect(run.stderr).toBe('');
    expect(run.status).toBe(0);
    expect(fs.statSync(bundle).mtime.getFullYear()).toBeGreaterThan(2000);
    expect(fs.existsSync(stackFile())).toBe(true);
  });
});

describe('cdktf synth', () => {
  test('writes the stack through cdktf.json, offline', () => {
    // WHEN
    const run = spawnSync(path.join(ROOT, 'node_modules', '.bin', 'cdktf'), ['synth', '--output', outdir], {
      cwd: ROOT,
      encoding: 'utf8',
      env: { ...process.env, CHECKPOINT_DISABLE: '1', TF_CLI_CONFIG_FILE: '/dev/null', CI: 'true' },
    });
    // THEN
    expect(run.status).toBe(0);
    expect(fs.existsSync(stackFile())).toBe(true);
  }, 60_000);
});
