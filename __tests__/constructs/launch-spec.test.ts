/**
 * What every market launches with; here, that user data is escaped for Terraform, which reads `${`
 * and `%{` in JSON strings as template syntax (the whole-stack engine tests read it back unchanged).
 */
import { launchArguments } from '../../src/constructs/launch-spec';
import { LAUNCH } from '../support/launch';

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
});
