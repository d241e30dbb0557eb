/** Config helpers for tests. */
import { ConfigError, parseConfig } from '../../src/config';

/** The one line a bad value produces, or a failure when the value is accepted. */
export function problemWith(input: unknown): string {
  try {
    parseConfig(input);
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    return (err as Error).message;
  }
  throw new Error(`accepted ${JSON.stringify(input)}`);
}
