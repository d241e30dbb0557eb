import { TerraformOutput, Testing } from 'cdktf';
import { DeploymentId } from '../../src/constructs/deployment-id';

describe('DeploymentId', () => {
  test('is the id of one terraform_data, which Terraform generates at the first apply and keeps', () => {
    // WHEN the id is used, as the stack uses it in tags and an output
    const json = JSON.parse(Testing.synthScope((scope) => {
      new TerraformOutput(scope, 'used', { value: new DeploymentId(scope, 'deployment').id });
    })) as { resource: Record<string, Record<string, unknown>>; output: Record<string, { value: string }> };
    // THEN it is one resource of Terraform's own provider, with no input or trigger a later plan could change
    expect(Object.keys(json.resource)).toEqual(['terraform_data']);
    const [[name, data]] = Object.entries(json.resource.terraform_data);
    expect(data).toEqual({});
    // AND the id is that resource's own id attribute
    expect(json.output.used.value).toBe(`\${terraform_data.${name}.id}`);
  });
});
