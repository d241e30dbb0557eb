#!/usr/bin/env node
// Installs the box agent from a synthesized stack into a directory, as State Manager would on a box:
// the SSM document's runCommand, read from cdk.tf.json as Terraform reads it, with `{{ documentHash }}`
// filled from the association's parameters, run by sh with TRAINIUM_SPOT_ROOT set.
//
//   node agent-root.mjs CDK_TF_JSON ROOT          install (again) into ROOT; the installer's output and exit code
//   node agent-root.mjs CDK_TF_JSON --command     print the script the box would run, and nothing else
//   node agent-root.mjs CDK_TF_JSON --user-data-file PATH   print the file cloud-init writes at PATH from
//                                                 the first box's user data (the boot script)
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import * as path from 'node:path';

const [stackFile, target, userDataPath] = process.argv.slice(2);
if (!stackFile || !target) {
  process.stderr.write('usage: agent-root.mjs CDK_TF_JSON ROOT|--command\n');
  process.exit(2);
}

const only = (blocks, type) => {
  const all = Object.values(blocks ?? {});
  if (all.length !== 1) throw new Error(`${stackFile}: expected one ${type}, found ${all.length}`);
  return all[0];
};
const stack = JSON.parse(readFileSync(stackFile, 'utf8'));
const fromTerraform = (text) => text.replace(/([$%])\1\{/g, '$1{');

if (target === '--user-data-file') {
  const box = Object.values({ ...stack.resource.aws_spot_instance_request, ...stack.resource.aws_instance })[0];
  const { parse } = await import('yaml');
  const entry = parse(fromTerraform(box.user_data)).write_files?.find((file) => file.path === userDataPath);
  if (!entry) throw new Error(`${stackFile}: the user data writes no ${userDataPath}`);
  process.stdout.write(entry.content);
  process.exit(0);
}
const document = only(stack.resource.aws_ssm_document, 'aws_ssm_document');
const association = only(stack.resource.aws_ssm_association, 'aws_ssm_association');
// A Terraform JSON string is a template: `$${` and `%%{` read back as `${` and `%{` (the engine tests
// check that Terraform plans exactly the rendered document).
const content = fromTerraform(document.content);
const step = JSON.parse(content).mainSteps[0];
// SSM fills `{{ name }}` with the association's parameter values before the step runs. A value that
// Terraform computes at apply (`${...}`, e.g. the key pair's public key) comes from $TS_PARAMETER_<name>.
const command = `${step.inputs.runCommand.join('\n')}\n`.replace(/\{\{ *(\w+) *\}\}/g, (_, name) => {
  const value = association.parameters?.[name];
  if (value === undefined) throw new Error(`${stackFile}: the association gives no parameter ${name}`);
  if (!value.includes('${')) return value;
  const given = process.env[`TS_PARAMETER_${name}`] ?? '';
  if (!new RegExp(JSON.parse(content).parameters[name].allowedPattern).test(given)) {
    throw new Error(`TS_PARAMETER_${name}: SSM would refuse ${JSON.stringify(given)}`);
  }
  return given;
});

if (target === '--command') {
  process.stdout.write(command);
} else {
  const work = mkdtempSync(path.join(tmpdir(), 'agent-command-'));
  try {
    writeFileSync(path.join(work, 'command.sh'), command);
    const run = spawnSync('sh', [path.join(work, 'command.sh')], {
      env: { ...process.env, TRAINIUM_SPOT_ROOT: path.resolve(target) }, stdio: 'inherit',
    });
    process.exitCode = run.status ?? 1;
  } finally {
    rmSync(work, { recursive: true, force: true });
  }
}
