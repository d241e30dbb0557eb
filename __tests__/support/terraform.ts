/**
 * Runs Terraform's own engine on our expressions. No provider can be downloaded here, so the
 * expressions are lifted out of the synthesized JSON and bound to builtin `terraform_data`
 * resources, with the quota values as variables: the condition, message and count logic are
 * exactly the synthesized ones.
 */
import { spawnSync } from 'node:child_process';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';

export const TERRAFORM = process.env.TERRAFORM_BIN ?? 'terraform';

/** Why terraform cannot run here, or undefined when it can. */
export function terraformMissingReason(): string | undefined {
  const probe = spawnSync(TERRAFORM, ['version'], { encoding: 'utf8' });
  return probe.status === 0 ? undefined : `terraform not found on PATH (${probe.error?.message ?? probe.stderr.trim()})`;
}

export interface PlanResult {
  readonly ok: boolean;
  /** Error diagnostics: summary and detail. */
  readonly errors: { summary: string; detail: string }[];
  /** Planned output values. */
  readonly outputs: Record<string, unknown>;
  /** Planned resource addresses to create. */
  readonly creates: string[];
}

/** `terraform plan -json` of one configuration and its variables, in a temp dir, with an empty CLI config. */
export function plan(config: object, vars: Record<string, unknown> = {}): PlanResult {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'trainium-spot-tf-'));
  try {
    fs.writeFileSync(path.join(dir, 'main.tf.json'), JSON.stringify(config, null, 2));
    fs.writeFileSync(path.join(dir, 'terraform.tfvars.json'), JSON.stringify(vars));
    const cliConfig = path.join(dir, 'empty.tfrc');
    fs.writeFileSync(cliConfig, '');
    const env = { ...process.env, TF_CLI_CONFIG_FILE: cliConfig, CHECKPOINT_DISABLE: '1', TF_IN_AUTOMATION: '1' };
    const run = spawnSync(TERRAFORM, ['plan', '-input=false', '-json', '-lock=false', '-out=plan.bin'], { cwd: dir, encoding: 'utf8', env });
    const messages = run.stdout.split('\n').filter(Boolean).map((line) => JSON.parse(line));
    const errors = messages.filter((m) => m.type === 'diagnostic' && m.diagnostic.severity === 'error')
      .map((m) => ({ summary: m.diagnostic.summary as string, detail: m.diagnostic.detail as string }));
    if (run.status !== 0) return { ok: false, errors, outputs: {}, creates: [] };

    // The plan stream names outputs without values; the saved plan has them.
    const show = spawnSync(TERRAFORM, ['show', '-json', 'plan.bin'], { cwd: dir, encoding: 'utf8', env });
    const saved = JSON.parse(show.stdout);
    const outputs = Object.fromEntries(
      Object.entries<{ value: unknown }>(saved.planned_values?.outputs ?? {}).map(([name, o]) => [name, o.value]));
    const creates = (saved.resource_changes ?? [])
      .filter((c: { change: { actions: string[] } }) => c.change.actions.includes('create'))
      .map((c: { address: string }) => c.address);
    return { ok: true, errors, outputs, creates };
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** A data source of the stack, replaced in the harness by a variable of the same shape (e.g. `{ value = 8 }`). */
export interface DataBinding {
  /** e.g. `aws_servicequotas_service_quota` */
  readonly type: string;
  /** Synthesized name of the data source; all of that type when omitted. */
  readonly name?: string;
  readonly variable: string;
}

const LOCAL_REF = /local\.([A-Za-z0-9_-]+)/g;

/** Replaces `data.<type>.<name>` with `var.<variable>` for every binding. */
export function bindData(expression: string, bindings: readonly DataBinding[]): string {
  return bindings.reduce((text, b) => {
    const name = b.name ? escapeRegExp(b.name) : '[A-Za-z0-9_-]+';
    return text.replace(new RegExp(`data\\.${escapeRegExp(b.type)}\\.${name}\\b`, 'g'), `var.${b.variable}`);
  }, expression);
}

/** The synthesized locals that these expressions need, directly or through other locals, bound. */
export function localsFor(expressions: readonly string[], locals: Record<string, string>, bindings: readonly DataBinding[]) {
  const needed: Record<string, string> = {};
  const visit = (text: string) => {
    for (const [, name] of text.matchAll(LOCAL_REF)) {
      if (name in needed) continue;
      if (!(name in locals)) throw new Error(`no local named ${name}`);
      needed[name] = bindData(locals[name], bindings);
      visit(locals[name]);
    }
  };
  expressions.forEach(visit);
  return needed;
}

function escapeRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}
