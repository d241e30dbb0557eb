/** File helpers shared by the test support code, with nothing heavy to load. */
import * as fs from 'node:fs';
import * as path from 'node:path';

/** Writes a file through a temporary name, so a reader in another process sees all of it or none. */
export function writeAtomically(file: string, content: string, mode = 0o644): void {
  fs.mkdirSync(path.dirname(file), { recursive: true });
  const temp = `${file}.${process.pid}.tmp`;
  fs.writeFileSync(temp, content, { mode });
  fs.renameSync(temp, file);
}
