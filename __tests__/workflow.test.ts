/** The `terraform plan` workflow cannot run here; this reads it and checks that it plans our stack. */
import * as fs from 'node:fs';
import * as path from 'node:path';
import { parse } from 'yaml';
import { STACK_NAME } from '../src/stack';

const workflow = parse(fs.readFileSync(path.join(__dirname, '..', '.github', 'workflows', 'terraform-plan.yml'), 'utf8'));
const steps: { name?: string; uses?: string; run?: string; with?: Record<string, unknown>; 'working-directory'?: string }[] =
  workflow.jobs.plan.steps;
const indexOf = (predicate: (step: (typeof steps)[number]) => boolean) => steps.findIndex(predicate);

describe('.github/workflows/terraform-plan.yml', () => {
  test('points terraform at the synthesized stack directory', () => {
    expect(workflow.env.STACK_DIR).toBe(`cdktf.out/stacks/${STACK_NAME}`);
    const terraformSteps = steps.filter((s) => s.run?.startsWith('terraform '));
    expect(terraformSteps.map((s) => s.run!.split(' ').slice(0, 2).join(' '))).toEqual(['terraform init', 'terraform test', 'terraform plan']);
    for (const step of terraformSteps) expect(step['working-directory']).toBe('${{ env.STACK_DIR }}');
  });

  test('installs, synthesizes, authenticates, runs the shipped terraform tests, then plans, in that order', () => {
    const order = [
      indexOf((s) => s.run === 'npm ci'),
      indexOf((s) => s.run === 'npx cdktf synth'),
      indexOf((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@') ?? false),
      indexOf((s) => s.run?.startsWith('terraform init') ?? false),
      indexOf((s) => s.run?.startsWith('terraform test') ?? false),
      indexOf((s) => s.run?.startsWith('terraform plan') ?? false),
    ];
    expect(order.every((i) => i >= 0)).toBe(true);
    expect([...order].sort((a, b) => a - b)).toEqual(order);
  });

  test('gets AWS credentials from OIDC, with no stored keys', () => {
    expect(workflow.permissions['id-token']).toBe('write');
    const auth = steps.find((s) => s.uses?.startsWith('aws-actions/configure-aws-credentials@'))!;
    expect(auth.with).toHaveProperty('role-to-assume');
    expect(JSON.stringify(workflow)).not.toMatch(/aws-access-key-id|AWS_SECRET_ACCESS_KEY/i);
  });

  test('installs a Terraform that reads the synthesized JSON the same way as here (1.11)', () => {
    const setup = steps.find((s) => s.uses?.startsWith('hashicorp/setup-terraform@'))!;
    expect(String(setup.with!.terraform_version)).toMatch(/^1\.11\./);
    expect(workflow.env.CHECKPOINT_DISABLE).toBe('1');
  });
});
