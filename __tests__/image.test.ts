/**
 * The machine image: presets per instance family, what the stack reads for each, the login message
 * and the activate_command output that name its environment, and bad combinations at synth.
 */
import {
  IMAGE_ALIASES,
  IMAGE_PRESET_NAMES,
  IMAGE_PRESETS,
  INSTANCE_FAMILIES,
  INSTANCE_TYPES,
  InstanceFamily,
  presetsFor,
} from '../src/catalog';
import { ConfigInput, parseConfig } from '../src/config';
import { problemWith } from './support/config';
import { renderAgentDocument } from '../src/userdata';
import { agentDocumentContent, fileOnBox, filesOf } from './support/agent';
import { synthesizeJson, TerraformJson } from './support/synth';

/** A catalog instance type of the family, in a region that offers it. */
function typeOf(family: InstanceFamily): { instanceType: string; region: string } {
  const instanceType = Object.keys(INSTANCE_TYPES).find((t) => t.startsWith(`${family}.`))!;
  return { instanceType, region: Object.keys(INSTANCE_TYPES[instanceType].offeredIn)[0] };
}

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

const theBox = (json: TerraformJson) => Object.values(json.resource.aws_spot_instance_request ?? json.resource.aws_instance)[0];

// ---------------------------------------------------------------------------------------------
// The catalog
// ---------------------------------------------------------------------------------------------

describe('the image presets of the catalog', () => {
  test.each(Object.entries(IMAGE_PRESETS))('%s is Ubuntu 24.04, sourced and dated, with an SSM parameter or a name to find it by', (_name, preset) => {
    expect(preset.amiNamePrefix).toMatch(/^Deep Learning (Base Neuron AMI|AMI Neuron)\b.*\(Ubuntu 24\.04\)$/);
    expect(preset.source).toMatch(/https:\/\/awsdocs-neuron\.readthedocs-hosted\.com\/.*checked \d{4}-\d{2}-\d{2}$/);
    expect(preset.neuronSdk).toMatch(/^2\.\d+\.\d+$/);
    if (preset.ssmParameter !== undefined) {
      expect(preset.ssmParameter).toMatch(/^\/aws\/service\/neuron\/dlami\/[a-z0-9.-]+\/ubuntu-24\.04\/latest\/image_id$/);
    }
    preset.environments.forEach((e) => expect(e.path).toMatch(/^\/opt\/aws_neuronx_venv_[a-z0-9_]+$/));
  });

  test('the PyTorch presets are the last PyTorch/XLA image (Neuron 2.31) and TorchNeuron 2.14 (Neuron 2.33, Trn2 only)', () => {
    expect(IMAGE_PRESETS['pytorch-2.9']).toMatchObject({
      ssmParameter: '/aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id',
      neuronSdk: '2.31.0',
      environments: [expect.objectContaining({ path: '/opt/aws_neuronx_venv_pytorch_2_9' }), expect.anything()],
    });
    // Neuron 2.34 ended PyTorch/XLA inference on Trn2 and Trn3 (training ended in 2.30).
    expect(IMAGE_PRESETS['pytorch-2.9'].families).toEqual(['trn1', 'trn1n', 'inf2']);
    expect(IMAGE_PRESETS['pytorch-2.9'].retiredFamilies).toEqual({ trn2: expect.objectContaining({ sinceNeuron: '2.34.0', use: 'torchneuron-2.14' }) });
    expect(IMAGE_PRESETS['torchneuron-2.14']).toMatchObject({
      amiNamePrefix: 'Deep Learning AMI Neuron torch-neuronx 2.14.0 (Ubuntu 24.04)',
      families: ['trn2'],
      neuronSdk: '2.33.0',
      environments: [expect.objectContaining({ path: '/opt/aws_neuronx_venv_torch_neuronx_2_14_0' })],
    });
    expect(IMAGE_PRESETS['torchneuron-2.14'].ssmParameter).toBeUndefined();
  });

  test('the multi-framework image carries JAX and vLLM, no PyTorch training environment', () => {
    const paths = IMAGE_PRESETS['multi-framework'].environments.map((e) => e.path);
    expect(paths).toEqual(['/opt/aws_neuronx_venv_jax_0_10', '/opt/aws_neuronx_venv_pytorch_inference_vllm_0_24_0_1_1_0']);
  });

  test('the JAX and vLLM presets name the newer release not catalogued yet, and where its DLAMI was looked for', () => {
    expect(IMAGE_PRESETS['jax-0.10'].notYetCatalogued).toMatch(/^JAX 0\.11\.2 since Neuron 2\.34\.0 .*searched 2026-12-07: /);
    expect(IMAGE_PRESETS['vllm-0.24'].notYetCatalogued).toMatch(/^vLLM Neuron 0\.29\.0\.1\.2\.0 since Neuron 2\.33\.0; .*searched 2026-12-07: /);
    // The multi-framework parameter follows the newest release, so its environments as of 2.32 may be gone.
    expect(IMAGE_PRESETS['multi-framework'].notYetCatalogued).toMatch(/^the image of a Neuron release after 2\.32 .*ls -d \/opt\/aws_neuronx_venv_\*$/);
    const catalogued = Object.entries(IMAGE_PRESETS).filter(([, p]) => p.notYetCatalogued === undefined).map(([name]) => name);
    expect(catalogued).toEqual(['pytorch-2.9', 'torchneuron-2.14', 'base']);
  });

  test.each<[string, InstanceFamily, string]>([
    ['jax-0.10', 'trn1', '/aws/service/neuron/dlami/jax-0.10/ubuntu-24.04/latest/image_id'],
    ['vllm-0.24', 'trn2', '/aws/service/neuron/dlami/pytorch-inference-vllm-0.24.0.1.1.0/ubuntu-24.04/latest/image_id'],
    ['pytorch-2.9', 'inf2', '/aws/service/neuron/dlami/pytorch-2.9/ubuntu-24.04/latest/image_id'],
  ])('a config naming %s, a release Neuron has moved past, keeps the preset and its parameter', (image, family, parameter) => {
    const config = parseConfig({ image, ...typeOf(family) });
    expect(config.resolvedImage).toEqual({ kind: 'preset', name: image, preset: IMAGE_PRESETS[image] });
    expect(IMAGE_PRESETS[image].ssmParameter).toBe(parameter);
  });

  test('no preset name prefix is the start of another, so the name guard tells them apart', () => {
    const prefixes = Object.values(IMAGE_PRESETS).map((p) => `${p.amiNamePrefix} `);
    prefixes.forEach((a, i) => prefixes.forEach((b, j) => i !== j && expect(b.startsWith(a)).toBe(false)));
  });

  test.each<[InstanceFamily, string[]]>([
    ['trn1', ['pytorch', 'pytorch-2.9', 'jax-0.10', 'multi-framework', 'base']],
    ['trn1n', ['pytorch', 'pytorch-2.9', 'jax-0.10', 'multi-framework', 'base']],
    ['inf2', ['pytorch', 'pytorch-2.9', 'jax-0.10', 'multi-framework', 'base']],
    ['trn2', ['pytorch', 'torchneuron-2.14', 'jax-0.10', 'vllm-0.24', 'multi-framework', 'base']],
  ])('%s is supported by %j', (family, presets) => {
    expect(presetsFor(family)).toEqual(presets);
  });

  test('a preset retired on a family no longer lists it, and names a preset that supports it instead', () => {
    for (const [name, preset] of Object.entries(IMAGE_PRESETS)) {
      for (const [family, retired] of Object.entries(preset.retiredFamilies ?? {})) {
        expect([name, family, preset.families.includes(family as InstanceFamily)]).toEqual([name, family, false]);
        expect([name, family, IMAGE_PRESETS[retired.use].families.includes(family as InstanceFamily)]).toEqual([name, family, true]);
      }
    }
  });

  test('every alias names, for every family, a preset that supports it', () => {
    for (const [alias, byFamily] of Object.entries(IMAGE_ALIASES)) {
      for (const family of INSTANCE_FAMILIES) {
        expect([alias, family, IMAGE_PRESETS[byFamily[family]].families.includes(family)]).toEqual([alias, family, true]);
      }
    }
  });
});

// ---------------------------------------------------------------------------------------------
// Config
// ---------------------------------------------------------------------------------------------

describe('the image config key', () => {
  test.each<[InstanceFamily, string]>([
    ['trn1', 'pytorch-2.9'], ['trn1n', 'pytorch-2.9'], ['inf2', 'pytorch-2.9'], ['trn2', 'torchneuron-2.14'],
  ])('by default a %s box gets the PyTorch image %s', (family, preset) => {
    const config = parseConfig(typeOf(family));
    expect(config.image).toBe('pytorch');
    expect(config.resolvedImage).toMatchObject({ kind: 'preset', name: preset });
  });

  test('ssm:<path> and ami-... name images outside the catalog', () => {
    expect(parseConfig({ image: 'ssm:/my/team/image' }).resolvedImage).toEqual({ kind: 'ssm', ssmParameter: '/my/team/image' });
    expect(parseConfig({ image: 'ami-0123456789abcdef0' }).resolvedImage).toEqual({ kind: 'ami', amiId: 'ami-0123456789abcdef0' });
  });

  test.each<[string, ConfigInput, string]>([
    ['a trn2-only preset on trn1', { image: 'torchneuron-2.14' },
      'config: image "torchneuron-2.14" does not support trn1; presets that do: pytorch, pytorch-2.9, jax-0.10, multi-framework, base'],
    ['the PyTorch/XLA preset on trn2, where Neuron 2.34 ended it', { image: 'pytorch-2.9', ...typeOf('trn2') },
      'config: image "pytorch-2.9" does not support trn2 since Neuron 2.34.0 (PyTorch/XLA inference ended on Trn2 and Trn3 in ' +
      'Neuron 2.34, training in 2.30); use torchneuron-2.14, as the default pytorch does'],
    ['the vLLM preset on inf2', { image: 'vllm-0.24', ...typeOf('inf2') },
      'config: image "vllm-0.24" does not support inf2; presets that do: pytorch, pytorch-2.9, jax-0.10, multi-framework, base'],
    ['an unknown preset', { image: 'tensorflow' },
      `config: image "tensorflow" is not a preset; allowed: ${IMAGE_PRESET_NAMES.join(', ')}, ssm:<parameter path> or an ami-... id`],
    ['a malformed AMI id', { image: 'ami-123' }, 'config: image "ami-123" is not an AMI id; expected e.g. ami-0123456789abcdef0'],
    ['an ssm: value without a path', { image: 'ssm:image' },
      'config: image "ssm:image" must name an SSM parameter path after "ssm:", e.g. ssm:/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id'],
  ])('fails when %s: one line naming what is allowed', (_case, input, message) => {
    expect(problemWith(input)).toBe(message);
  });

  test('fails when the retired amiSsmParameter key is used, saying what replaces it', () => {
    expect(problemWith({ amiSsmParameter: '/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id' } as ConfigInput)).toBe(
      'config: amiSsmParameter "/aws/service/neuron/dlami/base/ubuntu-24.04/latest/image_id" is no longer a key; ' +
      `use "image": "ssm:<parameter path>", or a preset: ${IMAGE_PRESET_NAMES.join(', ')}`);
  });
});

// ---------------------------------------------------------------------------------------------
// The synthesized stack
// ---------------------------------------------------------------------------------------------

describe('the stack per preset and family', () => {
  const cases = Object.entries(IMAGE_PRESETS).flatMap(([image, preset]) => preset.families.map((family) => [image, family] as const));

  test.each(cases)('%s on %s: reads the image it names, guards its name, and tells the box how to activate it', (image, family) => {
    // GIVEN
    const preset = IMAGE_PRESETS[image];
    // WHEN
    const json = synthesizeJson({ image, ...typeOf(family) });
    // THEN the image comes from the parameter, or the newest Amazon AMI of that name
    const [ami] = Object.values(json.data.aws_ami);
    if (preset.ssmParameter !== undefined) {
      expect(Object.values(json.data.aws_ssm_parameter)[0].name).toBe(preset.ssmParameter);
      expect(theBox(json).ami).toMatch(/^\$\{data\.aws_ssm_parameter\.[^.]+\.insecure_value\}$/);
    } else {
      expect(json.data.aws_ssm_parameter).toBeUndefined();
      expect(ami).toMatchObject({ most_recent: true, owners: ['amazon'], filter: expect.arrayContaining([{ name: 'name', values: [`${preset.amiNamePrefix} *`] }]) });
      expect(theBox(json).ami).toMatch(/^\$\{data\.aws_ami\.[^.]+\.id\}$/);
    }
    // AND the plan checks architecture and name
    const conditions = theBox(json).lifecycle.precondition.map((p: { condition: string }) => p.condition);
    expect(conditions).toEqual(expect.arrayContaining([
      expect.stringMatching(/^\$\{data\.aws_ami\.[^.]+\.architecture == "x86_64"\}$/),
      expect.stringMatching(new RegExp(`^\\$\\{startswith\\(data\\.aws_ami\\.[^.]+\\.name, ${escape(JSON.stringify(preset.amiNamePrefix))}\\)\\}$`)),
    ]));
    // AND the output and the login message name the environment and the SDK
    const activate = preset.environments.length > 0 ? `source ${preset.environments[0].path}/bin/activate` : undefined;
    const motd = fileOnBox(agentDocumentContent(json), '/etc/motd');
    expect(motd).toContain(`trainium-spot: image ${image}, Neuron SDK ${preset.neuronSdk}\n`);
    if (activate) {
      expect(json.output.activate_command.value).toBe(activate);
      expect(motd).toContain(`  Activate its environment: ${activate}\n`);
    } else {
      expect(json.output.activate_command.value).toBe(`echo "image ${image} names no environment; list them with: ls -d /opt/aws_neuronx_venv_*"`);
      expect(motd).toContain('  Activate its environment: none known for this image\n');
    }
  });

  test('the default stack tells a trn1 box its PyTorch 2.9 environment in /etc/motd', () => {
    const json = synthesizeJson();
    expect(fileOnBox(agentDocumentContent(json), '/etc/motd')).toBe(
      'trainium-spot: image pytorch (pytorch-2.9), Neuron SDK 2.31.0\n' +
      '  Activate its environment: source /opt/aws_neuronx_venv_pytorch_2_9/bin/activate\n' +
      '  Every environment on the image: ls -d /opt/aws_neuronx_venv_*\n');
    expect(json.output.activate_command.value).toBe('source /opt/aws_neuronx_venv_pytorch_2_9/bin/activate');
  });

  test('an image by AMI id has only the architecture guard, and its login message knows no SDK', () => {
    const json = synthesizeJson({ image: 'ami-0123456789abcdef0', market: 'on-demand' });
    expect(theBox(json).ami).toBe('ami-0123456789abcdef0');
    expect(Object.values(json.data.aws_ami)[0].filter).toEqual([{ name: 'image-id', values: ['ami-0123456789abcdef0'] }]);
    const conditions = theBox(json).lifecycle.precondition.map((p: { condition: string }) => p.condition);
    expect(conditions.filter((c: string) => c.includes('data.aws_ami'))).toEqual([expect.stringContaining('architecture == "x86_64"')]);
    expect(fileOnBox(agentDocumentContent(json), '/etc/motd')).toContain('trainium-spot: image ami-0123456789abcdef0, Neuron SDK unknown (not a preset)\n');
  });

  test('with the idle check off, the agent still writes the login message, whatever the image', () => {
    // GIVEN no idle check, so the login message is all the agent installs
    const idle = parseConfig({ idle: { enabled: false } }).idle;
    for (const image of [...Object.keys(IMAGE_PRESETS), 'ssm:/my/image', 'ami-0123456789abcdef0']) {
      // WHEN
      const document = renderAgentDocument({
        name: 'x', region: 'us-east-2', idle, loginMessage: { image, activate: 'source /opt/x/bin/activate', neuronSdk: '2.33.0' },
      });
      // THEN
      expect(filesOf(document.content).map((f) => f.path)).toEqual(['/etc/motd']);
      expect(fileOnBox(document.content, '/etc/motd')).toBe(
        `trainium-spot: image ${image}, Neuron SDK 2.33.0\n  Activate its environment: source /opt/x/bin/activate\n` +
        '  Every environment on the image: ls -d /opt/aws_neuronx_venv_*\n');
    }
  });
});
