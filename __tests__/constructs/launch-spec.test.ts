/**
 * What every market launches with; here, that user data reaches EC2 exactly as written although
 * Terraform reads `${` and `%{` in JSON strings as template syntax.
 */
import { launchArguments, terraformLiteral } from '../../src/constructs/launch-spec';
import { LAUNCH } from '../support/launch';
import { plan, terraformMissingReason } from '../support/terraform';

const SHELL = 'IMDS=${TS_IMDS_ENDPOINT:-http://169.254.169.254}\nPATTERN=%{not a directive}\nCOST=$5 {braces} %d\n';

describe('launchArguments', () => {
  test('escapes template syntax in plain user data, and only that', () => {
    // WHEN
    const args = launchArguments({ ...LAUNCH, userData: { userData: SHELL } });
    // THEN
    expect(args).toMatchObject({
      userData: 'IMDS=$${TS_IMDS_ENDPOINT:-http://169.254.169.254}\nPATTERN=%%{not a directive}\nCOST=$5 {braces} %d\n',
    });
  });

  test('passes base64 user data through unchanged', () => {
    expect(launchArguments({ ...LAUNCH, userData: { userDataBase64: 'H4sI${x}' } })).toMatchObject({ userDataBase64: 'H4sI${x}' });
  });
});

const skipReason = terraformMissingReason();
if (skipReason) console.warn(`SKIPPED user data round trip on terraform: ${skipReason}`);
(skipReason ? describe.skip : describe)('terraformLiteral on terraform plan', () => {
  test('Terraform turns the escaped text back into exactly the original', () => {
    // WHEN
    const result = plan({ output: { text: { value: terraformLiteral(SHELL) } } });
    // THEN
    expect(result.errors).toEqual([]);
    expect(result.outputs.text).toBe(SHELL);
  });
});
