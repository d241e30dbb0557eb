/**
 * The whole synthesized stack against the real AWS provider's schema: `terraform validate` with
 * terraform-provider-aws 5.100.0 where it is installed (/opt/tf-plugins; it cannot be downloaded
 * here). Every market and both spot launch paths are child modules of one root, so the provider
 * starts once. The pinned bindings target provider 6.x; the argument names used here are the same
 * in 5.100.0, which is the newest provider this machine has.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { ConfigInput } from '../../src/config';
import { synthesizeJson } from '../support/synth';
import { TERRAFORM, terraformMissingReason } from '../support/terraform';

const PROVIDER_DIR = '/opt/tf-plugins/registry.terraform.io/hashicorp/aws/5.100.0/linux_amd64';
/** An imported key: the stack then needs no tls provider, which is not installed here. */
const SSH_PUBLIC_KEY = 'ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIGb5mWqkVj3m4C7Q3e6z0pZ8vJ2q9yYxkLh7uQ1bR2tF me@laptop';

const STACKS: Record<string, ConfigInput> = {
  spot_request: {},
  spot_request_auto_2: { market: 'auto', instanceCount: 2 },
  run_instances: { spotLaunch: 'run-instances', cpuCoreCount: 2, spotMaxPricePerHour: 0.9, notifyEmail: 'ml@example.com' },
  run_instances_auto_2: { market: 'auto', instanceCount: 2, spotLaunch: 'run-instances' },
  on_demand_with_template_syntax: { market: 'on-demand', idle: { processPatterns: ['train_${run}', '%{weird}'] } },
  capacity_block: {
    market: 'capacity-block', instanceType: 'trn1.32xlarge', capacityReservationId: 'cr-0123456789abcdef0', availabilityZoneId: 'use2-az3',
  },
};

const skipReason = terraformMissingReason() ??
  (fs.existsSync(PROVIDER_DIR) ? undefined : `the AWS provider is not installed at ${PROVIDER_DIR}`);
if (skipReason) console.warn(`SKIPPED real-provider validate: ${skipReason}`);

(skipReason ? describe.skip : describe)('the synthesized stacks on the real AWS provider', () => {
  jest.setTimeout(180_000);

  test('terraform validate accepts every market and both spot launch paths', () => {
    // GIVEN one root module holding each synthesized stack as a child module
    const root = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-validate-'));
    try {
      for (const [name, input] of Object.entries(STACKS)) {
        const json = synthesizeJson({ ...input, sshPublicKey: SSH_PUBLIC_KEY });
        delete json.terraform.backend;
        json.terraform.required_providers.aws.version = '5.100.0';
        fs.mkdirSync(path.join(root, name));
        fs.writeFileSync(path.join(root, name, 'main.tf.json'), JSON.stringify(json));
      }
      fs.writeFileSync(path.join(root, 'main.tf.json'), JSON.stringify({
        module: Object.fromEntries(Object.keys(STACKS).map((name) => [name, { source: `./${name}` }])),
      }));
      // dev_overrides uses the installed binary in place: no `terraform init`, no 700 MB copy.
      const cliConfig = path.join(root, 'dev.tfrc');
      fs.writeFileSync(cliConfig, `provider_installation {\n  dev_overrides {\n    "hashicorp/aws" = "${PROVIDER_DIR}"\n  }\n  direct {}\n}\n`);

      const env = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
      // `terraform get` links the local child modules; `init` would look for the provider in the registry.
      const get = spawnSync(TERRAFORM, ['get', '-no-color'], { cwd: root, encoding: 'utf8', env });
      expect(get.stderr).toBe('');

      // WHEN
      const run = spawnSync(TERRAFORM, ['validate', '-json', '-no-color'], { cwd: root, encoding: 'utf8', env });

      // THEN
      const result = JSON.parse(run.stdout) as { valid: boolean; diagnostics: { severity: string; summary: string; detail: string }[] };
      expect(result.diagnostics.filter((d) => d.severity === 'error')).toEqual([]);
      expect(result.valid).toBe(true);
    } finally {
      fs.rmSync(root, { recursive: true, force: true });
    }
  });
});
